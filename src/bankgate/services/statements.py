"""Fetch end-of-day statements into the store: checked, idempotent, raw answer kept."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO

from bankgate.connectors.base import Capability, Channel
from bankgate.domain import (
    CompanyAccount,
    StatementEntry,
    check_statement,
    mask_numbers,
)
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import ChannelError, NotFound
from bankgate.formats.stream import StatementCheck, StatementEnd, StatementEvent, StatementStart
from bankgate.services._tx import RetryLater, UowFactory, in_transaction
from bankgate.store import NewJob, UnitOfWork

__all__ = ["Fetched", "Imported", "fetch_statement", "import_statement_file",
           "import_statement_path", "statement_job"]

#: Entries written per INSERT while a statement streams in.
_BATCH = 2000


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
        raise RetryLater(3600, f"bank {account.bank} offers no statements on this channel",
                         counted=False)
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
    # deferred: formats.parse pulls in openpyxl (~0.15 s); bootstrap imports this module
    from bankgate.formats.parse import detect_statement_file

    fmt = detect_statement_file(content, origin)
    return in_transaction(uow, lambda unit: _store(
        unit, fmt, lambda: io.BytesIO(content), origin, now(),
        lambda at: unit.statements.archive_raw(content, name=origin, origin="import", at=at)))


def import_statement_path(*, uow: UowFactory, path: Path, now: Callable[[], datetime],
                          origin: str | None = None) -> Imported:
    """`import_statement_file` for a file on disk, read as a stream (L-06).

    A camt file is never held whole: its entries go to the store in batches inside the one
    transaction, and its raw bytes are archived by streaming on SQLite; memory stays
    bounded whatever the statement's size. All or nothing as `import_statement_file`.
    """
    from bankgate.formats.parse import detect_statement_file  # deferred, as above

    name = origin or path.name
    with path.open("rb") as head:
        fmt = detect_statement_file(head.read(64 * 1024), name)
    return in_transaction(uow, lambda unit: _store(
        unit, fmt, lambda: path.open("rb"), name, now(),
        lambda at: unit.statements.archive_raw_file(path, name=name, origin="import", at=at)))


def _store(unit: UnitOfWork, fmt: str, open_stream: Callable[[], IO[bytes]], origin: str,
           at: datetime, archive: Callable[[datetime], str]) -> Imported:
    """Archive the file, then store each statement as its events stream in."""
    from bankgate.formats.parse import stream_statement_file  # deferred, as above

    digest = archive(at)
    new = total = count = 0
    issues: list[str] = []
    with open_stream() as stream:
        for end, account, check, added in _statements(
                unit, stream_statement_file(fmt, stream, origin), at):
            found = check.finish(end.header)
            unit.statements.add_statement(end.header, account_id=account.id,
                                          raw_sha256=digest, issues=found, at=at,
                                          entry_count=end.entries)
            count, total, new = count + 1, total + end.entries, new + added
            issues += [f"{end.header.id}: {i.message}" for i in found]
    unit.audit.append(AuditRecord(
        at=at, actor="system:import", action="statement.imported", subject_kind="file",
        subject_id=digest[:40], detail={"origin": origin, "format": fmt,
                                        "statements": count, "new": new}))
    return Imported(digest, fmt, count, total, new, tuple(issues))


def _statements(unit: UnitOfWork, events: Iterator[StatementEvent], at: datetime
                ) -> Iterator[tuple[StatementEnd, CompanyAccount, StatementCheck, int]]:
    """Insert each statement's entries in batches, checking them on the way; yield its end,
    account, checks and how many of its entries were new."""
    batch: list[StatementEntry] = []
    account: CompanyAccount | None = None
    check: StatementCheck | None = None
    before = 0
    statement_id = ""
    for event in events:
        if isinstance(event, StatementEntry):
            assert check is not None and account is not None, "an entry before its statement"
            check.entry(event)
            batch.append(event)
            if len(batch) >= _BATCH:
                unit.statements.insert_entries(account.id, batch, statement_id=statement_id,
                                               at=at)
                batch = []
        elif isinstance(event, StatementStart):
            account = _our_account(unit, event.header.account)
            check, statement_id = StatementCheck(event.header), event.header.id[:40]
            before = unit.statements.entry_count(account.id)
        else:
            assert check is not None and account is not None, "an end before its start"
            unit.statements.insert_entries(account.id, batch, statement_id=statement_id, at=at)
            batch = []
            added = unit.statements.entry_count(account.id) - before
            yield event, account, check, added


def _our_account(unit: UnitOfWork, number: str) -> CompanyAccount:
    held = unit.accounts.by_number(number)
    if len(held) != 1:
        shown = mask_numbers(number) if len(number) >= 8 else number
        raise NotFound(f"the statement is for account {shown}, which is not one of ours"
                       if not held else f"account {shown} is held at several banks")
    return held[0]
