"""What the sync pipeline keeps: statement headers per day, sync exceptions, pending entries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from bankgate.domain import Issue, Statement, StatementEntry
from bankgate.store._sql import insert_ignore
from bankgate.store.tables import statement_entries, statements
from bankgate.store.tables_recon import sync_exceptions

__all__ = ["HeldDay", "SyncException", "SyncRepository"]

_e = statement_entries.c
_x = sync_exceptions.c


@dataclass(frozen=True, slots=True)
class HeldDay:
    """A statement we hold for one account and day (the newest fetch of it)."""

    on: date
    opening_minor: int | None
    closing_minor: int | None
    fetched_at: datetime
    clean: bool  # no check found anything


@dataclass(frozen=True, slots=True)
class SyncException:
    """A problem sync found on one account and day, open until a clean fetch resolves it."""

    account_id: str
    on: date
    kind: str
    message: str
    found_at: datetime
    resolved_at: datetime | None


class SyncRepository:
    """Statement headers upserted per account, day and origin; exceptions; pending entries."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def save_statement(self, stmt: Statement, *, account_id: str, raw_sha256: str | None,
                       issues: Sequence[Issue], at: datetime) -> None:
        """Record the statement header, replacing an earlier fetch of the same day."""
        values = {"opening_minor": stmt.opening.amount.to_minor() if stmt.opening else None,
                  "closing_minor": stmt.closing.amount.to_minor() if stmt.closing else None,
                  "entry_count": len(stmt.entries), "raw_sha256": raw_sha256,
                  "issues": json.dumps([i.message for i in issues], ensure_ascii=False),
                  "fetched_at": at}
        row = {"id": stmt.id[:40], "account_id": account_id, "on_date": stmt.on,
               "currency": stmt.currency.code, "origin": stmt.source.origin[:255], **values}
        inserted = self._conn.execute(insert_ignore(self._conn, statements), [row]).rowcount
        if inserted != 1:
            self._conn.execute(update(statements).where(and_(
                statements.c.account_id == account_id, statements.c.on_date == stmt.on,
                statements.c.origin == row["origin"])).values(**values))

    def held_days(self, account_id: str) -> dict[date, HeldDay]:
        """Each day we hold a statement for (from any origin; the newest fetch wins)."""
        rows = self._conn.execute(
            select(statements.c.on_date, statements.c.opening_minor, statements.c.closing_minor,
                   statements.c.fetched_at, statements.c.issues)
            .where(statements.c.account_id == account_id, statements.c.on_date.is_not(None))
            .order_by(statements.c.fetched_at))
        return {r.on_date: HeldDay(r.on_date, r.opening_minor, r.closing_minor, r.fetched_at,
                                   not json.loads(r.issues)) for r in rows}

    def open_exception(self, account_id: str, on: date, kind: str, message: str, *,
                       at: datetime) -> None:
        """Record (or re-open) a problem of this kind on this account and day."""
        row = {"account_id": account_id, "on_date": on, "kind": kind[:20],
               "message": message[:255], "found_at": at, "resolved_at": None}
        if self._conn.execute(insert_ignore(self._conn, sync_exceptions), [row]).rowcount != 1:
            self._conn.execute(update(sync_exceptions).where(
                _x.account_id == account_id, _x.on_date == on, _x.kind == row["kind"])
                .values(message=row["message"], resolved_at=None))

    def resolve_exceptions(self, account_id: str, on: date, *, at: datetime,
                           keep: Sequence[str] = ()) -> int:
        """Close the open problems of this account and day, except the kinds in `keep`."""
        query = update(sync_exceptions).where(
            _x.account_id == account_id, _x.on_date == on, _x.resolved_at.is_(None))
        if keep:
            query = query.where(_x.kind.not_in(list(keep)))
        return int(self._conn.execute(query.values(resolved_at=at)).rowcount)

    def exceptions(self, account_id: str | None = None, *,
                   open_only: bool = True) -> list[SyncException]:
        """Sync problems, oldest day first."""
        query = select(sync_exceptions).order_by(_x.on_date, _x.account_id, _x.kind)
        if account_id:
            query = query.where(_x.account_id == account_id)
        if open_only:
            query = query.where(_x.resolved_at.is_(None))
        return [SyncException(r.account_id, r.on_date, r.kind, r.message, r.found_at,
                              r.resolved_at) for r in self._conn.execute(query)]

    def pending_entries(self, account_id: str) -> list[dict[str, Any]]:
        """The account's pending (intraday, not yet booked) entries."""
        rows = self._conn.execute(select(statement_entries).where(
            _e.account_id == account_id, _e.status == "pending"))
        return [dict(r._mapping) for r in rows]

    def booked_with_amount(self, account_id: str, amount_minor: int) -> list[dict[str, Any]]:
        """Booked entries of the account with exactly this amount."""
        rows = self._conn.execute(select(statement_entries).where(
            _e.account_id == account_id, _e.status == "booked",
            _e.amount_minor == amount_minor))
        return [dict(r._mapping) for r in rows]

    def mark_replaced(self, entry_ids: Sequence[int]) -> int:
        """Mark pending entries as replaced by their booking (they no longer count)."""
        if not entry_ids:
            return 0
        return int(self._conn.execute(update(statement_entries).where(
            _e.id.in_(list(entry_ids)), _e.status == "pending").values(status="replaced"))
            .rowcount)

    def mark_lapsed(self, entry_ids: Sequence[int]) -> int:
        """Mark pending entries the bank never booked as lapsed (they stop waiting)."""
        if not entry_ids:
            return 0
        return int(self._conn.execute(update(statement_entries).where(
            _e.id.in_(list(entry_ids)), _e.status == "pending").values(status="lapsed"))
            .rowcount)

    def promote_pending(self, account_id: str, entries: Sequence[StatementEntry]) -> int:
        """Booked entries whose key we hold as pending: the held row becomes the booking."""
        promoted = 0
        for entry in entries:
            if entry.is_booked:
                promoted += int(self._conn.execute(update(statement_entries).where(
                    _e.account_id == account_id, _e.key_kind == entry.key.kind,
                    _e.key_value == entry.key.value[:64], _e.status == "pending").values(
                    status="booked", booking_date=entry.booking_date,
                    value_date=entry.value_date)).rowcount)
        return promoted

    def booked_total_minor(self, account_id: str, *, through: date | None = None) -> int:
        """Sum of the account's booked entries (up to a booking date, if given)."""
        query = select(func.coalesce(func.sum(_e.amount_minor), 0)).where(
            _e.account_id == account_id, _e.status == "booked")
        if through is not None:
            query = query.where(_e.booking_date <= through)
        return int(self._conn.execute(query).scalar_one())

    def entry_ids(self, account_id: str) -> list[int]:
        """Every entry id of the account, in order (what a no-change check compares)."""
        return [int(r[0]) for r in self._conn.execute(
            select(_e.id).where(_e.account_id == account_id).order_by(_e.id))]
