"""Checks on statements that return problems as data (`Issue`s), never raise."""

from __future__ import annotations

from dataclasses import dataclass

from bankgate.domain.money import Money
from bankgate.domain.statements import Source, Statement

__all__ = ["Issue", "check_statement"]


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem found in data: where, and what (with the figures)."""

    source: Source
    message: str


def check_statement(stmt: Statement) -> list[Issue]:
    """Opening + booked entries = closing; every amount in the statement's currency."""
    issues: list[Issue] = []
    for entry in stmt.entries:
        if entry.amount.currency != stmt.currency:
            issues.append(Issue(entry.source, f"entry {entry.key.value} is in "
                                f"{entry.amount.currency.code}, the statement in "
                                f"{stmt.currency.code}"))
    for balance in (stmt.opening, stmt.closing):
        if balance is not None and balance.amount.currency != stmt.currency:
            issues.append(Issue(balance.source, f"the {balance.type.value} balance is in "
                                f"{balance.amount.currency.code}, the account in "
                                f"{stmt.currency.code}"))
    if stmt.opening is None or stmt.closing is None or issues:
        return issues
    booked = sum((e.amount for e in stmt.entries if e.is_booked), Money.zero(stmt.currency))
    expected = stmt.opening.amount + booked
    if expected != stmt.closing.amount:
        issues.append(Issue(stmt.source,
                            f"opening {stmt.opening.amount} + booked entries {booked} = "
                            f"{expected}, but the closing balance is {stmt.closing.amount}"))
    return issues
