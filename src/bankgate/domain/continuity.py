"""Checks across statements (the sync pipeline's "validate" step), returning `Issue`s.

A statement continues the one before it when its opening balance is the previous closing;
the days of an account's statements leave no day out; one bank reference appears once; and a
booked entry replaces the pending (intraday) entry it books.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from bankgate.domain.checks import Issue
from bankgate.domain.statements import StatementEntry

__all__ = ["DayBalances", "EntryFacts", "continuity_breaks", "duplicate_references",
           "is_booking_of", "missing_days"]


@dataclass(frozen=True, slots=True)
class DayBalances:
    """An account's statement of one day, reduced to its balances (minor units)."""

    on: date
    opening_minor: int | None
    closing_minor: int | None


def continuity_breaks(days: Sequence[DayBalances]) -> dict[date, str]:
    """Day → why its opening is not the closing of the statement held before it.

    `days` in any order; a day whose own or previous balances are unknown is not judged.
    """
    ordered = sorted(days, key=lambda d: d.on)
    breaks: dict[date, str] = {}
    for before, day in pairwise(ordered):
        if before.closing_minor is None or day.opening_minor is None:
            continue
        if day.opening_minor != before.closing_minor:
            breaks[day.on] = (f"continuity: opening {day.opening_minor} on {day.on} is not the "
                              f"closing {before.closing_minor} of {before.on} (minor units)")
    return breaks


def missing_days(held: Iterable[date], start: date, end: date) -> list[date]:
    """The days from `start` to `end` (inclusive) that `held` does not cover, in order."""
    have = set(held)
    count = (end - start).days + 1
    return [day for day in (start + timedelta(days=n) for n in range(max(0, count)))
            if day not in have]


def duplicate_references(entries: Sequence[StatementEntry]) -> list[Issue]:
    """One issue per entry key given more than once in the same answer (the copies drop)."""
    counts = Counter(e.key for e in entries)
    first = {e.key: e for e in reversed(entries)}
    return [Issue(first[key].source, f"duplicate: bank reference {key.value} given {n} times; "
                                     "kept once")
            for key, n in counts.items() if n > 1]


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryFacts:
    """What decides whether a booked entry is the booking of a pending one."""

    amount_minor: int
    end_to_end_id: str | None
    bank_reference: str | None
    counterparty_account: str | None
    day: date | None  # value date, else booking date


def is_booking_of(booked: EntryFacts, pending: EntryFacts) -> bool:
    """True when `booked` is the booking of the intraday `pending` entry.

    Same amount, and the same end-to-end id or bank reference when the pending entry has
    one; without either, the same counterparty account and a date at most a day apart.
    """
    if booked.amount_minor != pending.amount_minor:
        return False
    for ours, theirs in ((booked.end_to_end_id, pending.end_to_end_id),
                         (booked.bank_reference, pending.bank_reference)):
        if theirs:
            return ours == theirs
    return (pending.counterparty_account is not None
            and booked.counterparty_account == pending.counterparty_account
            and booked.day is not None and pending.day is not None
            and abs((booked.day - pending.day).days) <= 1)
