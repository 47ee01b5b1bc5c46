"""Fetch end-of-day statements into the store: checked, idempotent, raw answer kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from bankgate.connectors.base import Capability, Channel
from bankgate.domain import CompanyAccount, check_statement, mask_numbers
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import ChannelError, NotFound
from bankgate.formats.parse import read_statement_file
from bankgate.services._tx import RetryLater, UowFactory, in_transaction
from bankgate.store import NewJob, UnitOfWork

__all__ = ["Fetched", "Imported", "fetch_statement", "import_statement_file", "statement_job"]


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a statement fetch added."""

    account_id: str
    on: date
    entries: int
    new_entries: int
    issues: tuple[str, ...]


def statement_job(account_id: str, on: date) -> NewJob:
    """The job that fetches one account's statement for one day."""
    return NewJob("fetch_statement", {"account_id": account_id, "date": on.isoformat()},
                  dedupe_key=f"statement:{account_id}:{on.isoformat()}", max_attempts=20)


def fetch_statement(*, uow: UowFactory, channels: Mapping[str, Channel], account_id: str,
                    on: date, now: Callable[[], datetime]) -> Fetched:
    """Fetch and store one statement; entries already held (same key) are not added twice."""
    with uow() as unit:
        account = unit.accounts.get(account_id)
    channel = channels[account.bank]
    if Capability.STATEMENT not in channel.capabilities:
        raise RetryLater(3600, f"bank {account.bank} offers no statements on this channel")
    try:
        statement = channel.statements(account, on)
    except ChannelError as exc:
        raise RetryLater(5.0, f"statement fetch failed: {exc}") from exc
    issues = check_statement(statement)

    def store(unit: UnitOfWork) -> Fetched:
        at = now()
        digest = None
        if statement.raw:
            digest = unit.statements.archive_raw(statement.raw, name=f"{account_id}-{on}.json",
                                                 origin=statement.source.origin, at=at)
        unit.statements.add_statement(statement, account_id=account_id, raw_sha256=digest,
                                      issues=issues, at=at)
        new = unit.statements.add_entries(account_id, statement.entries,
                                          statement_id=statement.id[:40], at=at)
        unit.audit.append(AuditRecord(
            at=at, actor="system:statements", action="statement.fetched",
            subject_kind="account", subject_id=account_id,
            detail={"date": on.isoformat(), "entries": len(statement.entries), "new": new,
                    "issues": [i.message for i in issues]}))
        return Fetched(account_id, on, len(statement.entries), new,
                       tuple(i.message for i in issues))

    return in_transaction(uow, store)


@dataclass(frozen=True, slots=True)
class Imported:
    """What importing a statement file added."""

    raw_sha256: str
    format: str
    statements: int
    entries: int
    new_entries: int
    issues: tuple[str, ...]


def import_statement_file(*, uow: UowFactory, content: bytes, origin: str,
                          now: Callable[[], datetime]) -> Imported:
    """Store every statement of a bank file, all or nothing, adding no entry twice (K-14).

    The raw file is archived once by its SHA-256; entries are keyed per dialect, so the same
    file twice, or two overlapping statements, add nothing the store already holds.
    Raises:
        FormatError: the file cannot be read (nothing is stored).
        NotFound: a statement is for an account we do not hold.
    """
    fmt, statements = read_statement_file(content, origin)

    def store(unit: UnitOfWork) -> Imported:
        at = now()
        digest = unit.statements.archive_raw(content, name=origin, origin="import", at=at)
        new = total = 0
        issues: list[str] = []
        for statement in statements:
            account = _our_account(unit, statement.account)
            found = check_statement(statement)
            issues += [f"{statement.id}: {i.message}" for i in found]
            unit.statements.add_statement(statement, account_id=account.id,
                                          raw_sha256=digest, issues=found, at=at)
            total += len(statement.entries)
            new += unit.statements.add_entries(account.id, statement.entries,
                                               statement_id=statement.id[:40], at=at)
        unit.audit.append(AuditRecord(
            at=at, actor="system:import", action="statement.imported", subject_kind="file",
            subject_id=digest[:40], detail={"origin": origin, "format": fmt,
                                            "statements": len(statements), "new": new}))
        return Imported(digest, fmt, len(statements), total, new, tuple(issues))

    return in_transaction(uow, store)


def _our_account(unit: UnitOfWork, number: str) -> CompanyAccount:
    held = unit.accounts.by_number(number)
    if len(held) != 1:
        shown = mask_numbers(number) if len(number) >= 8 else number
        raise NotFound(f"the statement is for account {shown}, which is not one of ours"
                       if not held else f"account {shown} is held at several banks")
    return held[0]
