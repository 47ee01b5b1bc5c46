"""Statements, their entries (upserted by entry key), raw files, balances and bank messages."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from bankgate.domain import Balance, Issue, Statement, StatementEntry
from bankgate.domain.recon_keys import pack_keys, remittance_keys
from bankgate.store import raw_archive
from bankgate.store._sql import insert_ignore
from bankgate.store.tables import (
    balances,
    bank_messages,
    statement_entries,
    statements,
)

__all__ = ["BalanceRepository", "BankMessageRepository", "StatementRepository"]


class StatementRepository:
    """Statements and entries, idempotent on entry keys; raw bytes archived by hash."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def archive_raw(self, content: bytes, *, name: str, origin: str, at: datetime) -> str:
        """Keep `content` as received; returns its SHA-256 (stored once per hash)."""
        return raw_archive.archive_bytes(self._conn, content, name=name, origin=origin, at=at)

    def archive_raw_file(self, path: Path, *, name: str, origin: str, at: datetime) -> str:
        """Keep the file at `path` as received; returns its SHA-256 (stored once per hash).

        Streamed in chunks of 1 MiB on every store (store/raw_archive.py), so a file of any
        size is archived in constant memory, inside the caller's transaction.
        """
        return raw_archive.archive_path(self._conn, path, name=name, origin=origin, at=at)

    def raw_file(self, sha256: str) -> bytes | None:
        """The archived bytes with this SHA-256, if we hold them (whole: small files)."""
        return raw_archive.read_raw(self._conn, sha256)

    def raw_chunks(self, sha256: str) -> Iterator[bytes] | None:
        """The archived bytes with this SHA-256 a chunk at a time, if we hold them."""
        return raw_archive.raw_chunks(self._conn, sha256)

    def add_statement(self, stmt: Statement, *, account_id: str, raw_sha256: str | None,
                      issues: Sequence[Issue], at: datetime,
                      entry_count: int | None = None) -> bool:
        """Record the statement header; False if this account, day and origin exist.

        `entry_count` is for a header read as a stream (its `entries` are not held).
        """
        row = {"id": stmt.id[:40], "account_id": account_id, "on_date": stmt.on,
               "currency": stmt.currency.code,
               "opening_minor": stmt.opening.amount.to_minor() if stmt.opening else None,
               "closing_minor": stmt.closing.amount.to_minor() if stmt.closing else None,
               "entry_count": len(stmt.entries) if entry_count is None else entry_count,
               "origin": stmt.source.origin[:255],
               "raw_sha256": raw_sha256,
               "issues": json.dumps([i.message for i in issues], ensure_ascii=False),
               "fetched_at": at}
        result = self._conn.execute(insert_ignore(self._conn, statements), [row])
        return result.rowcount == 1

    def add_entries(self, account_id: str, entries: Sequence[StatementEntry], *,
                    statement_id: str | None, at: datetime) -> int:
        """Insert entries whose key is new for the account; returns how many were new."""
        if not entries:
            return 0
        before = self.entry_count(account_id)
        self.insert_entries(account_id, entries, statement_id=statement_id, at=at)
        return self.entry_count(account_id) - before

    def insert_entries(self, account_id: str, entries: Sequence[StatementEntry], *,
                       statement_id: str | None, at: datetime) -> None:
        """Insert entries whose key is new for the account (a streamed import's batches;
        count the new ones with `entry_count` before and after)."""
        rows = [_entry_row(account_id, e, statement_id, at) for e in entries]
        if rows:
            self._conn.execute(insert_ignore(self._conn, statement_entries), rows)

    def entry_count(self, account_id: str | None = None) -> int:
        """How many entries we hold (for one account, if given)."""
        query = select(func.count()).select_from(statement_entries)
        if account_id:
            query = query.where(statement_entries.c.account_id == account_id)
        return int(self._conn.execute(query).scalar_one())

    def entries(self, account_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Entries of an account, by booking date then id."""
        rows = self._conn.execute(
            select(statement_entries).where(statement_entries.c.account_id == account_id)
            .order_by(statement_entries.c.booking_date, statement_entries.c.id).limit(limit))
        return [dict(r._mapping) for r in rows]

    def list_statements(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Statement headers, newest day first."""
        query = select(statements).order_by(statements.c.on_date.desc())
        if account_id:
            query = query.where(statements.c.account_id == account_id)
        return [dict(r._mapping) for r in self._conn.execute(query)]


def _entry_row(account_id: str, e: StatementEntry, statement_id: str | None,
               at: datetime) -> dict[str, Any]:
    return {"account_id": account_id, "key_kind": e.key.kind, "key_value": e.key.value[:64],
            "amount_minor": e.amount.to_minor(), "currency": e.amount.currency.code,
            "status": e.status.value, "booking_date": e.booking_date,
            "value_date": e.value_date, "bank_reference": _clip(e.bank_reference, 64),
            "end_to_end_id": _clip(e.end_to_end_id, 35),
            "counterparty_name": _clip(e.counterparty_name, 140),
            "counterparty_account": _clip(e.counterparty_account, 34),
            "remittance": _clip(e.remittance, 255), "recon_keys": _keys(e.remittance),
            "statement_id": statement_id,
            "origin": e.source.origin[:255], "created_at": at}


def _keys(remittance: str | None) -> str:
    """The reference keys the matcher looks for, of the remittance as stored (clipped)."""
    return pack_keys(remittance_keys(remittance[:255])) if remittance else ""


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else text[:size]


class BalanceRepository:
    """Balance snapshots as fetched from the banks."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, fetched: Sequence[Balance], *, at: datetime) -> None:
        """Record fetched balances."""
        rows = [{"account_id": b.account, "type": b.type.value,
                 "amount_minor": b.amount.to_minor(), "currency": b.amount.currency.code,
                 "as_of": b.as_of, "fetched_at": at} for b in fetched]
        if rows:
            self._conn.execute(balances.insert(), rows)


class BankMessageRepository:
    """Every bank answer, kept as received (evidence for disputes and audits)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, bank: str, kind: str, batch_id: str | None, raw: bytes,
            at: datetime) -> None:
        """Keep one raw answer."""
        self._conn.execute(bank_messages.insert().values(
            at=at, bank=bank, kind=kind, batch_id=batch_id, raw=raw))

    def count(self, kind: str | None = None) -> int:
        """How many answers we kept (of one kind, if given)."""
        query = select(func.count()).select_from(bank_messages)
        if kind:
            query = query.where(bank_messages.c.kind == kind)
        return int(self._conn.execute(query).scalar_one())
