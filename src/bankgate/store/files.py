"""File transfers of the file channel: what came in and went out, by name and content hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from bankgate.errors import ConcurrentUpdate
from bankgate.store._sql import insert_ignore
from bankgate.store.raw_archive import read_raw
from bankgate.store.tables_files import file_transfers

__all__ = ["Transfer", "TransferRepository"]

t = file_transfers.c


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """One file, in or out, as the store knows it."""

    id: int
    bank: str
    direction: str
    name: str
    sha256: str
    size: int
    kind: str | None
    state: str
    batch_id: str | None
    remote_mtime: int | None
    detail: str | None
    first_seen_at: datetime
    done_at: datetime | None
    version: int


def _transfer(row: Any) -> Transfer:
    return Transfer(**dict(row._mapping))


class TransferRepository:
    """Rows of `file_transfers`; a state change is a compare-and-set on the version."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, bank: str, direction: str, name: str, sha256: str, size: int,
            kind: str | None, state: str, at: datetime, batch_id: str | None = None,
            remote_mtime: int | None = None, detail: str | None = None,
            done: bool = False) -> bool:
        """Record a file; False when this bank, direction, name and content are known."""
        row = {"bank": bank, "direction": direction, "name": name[:200], "sha256": sha256,
               "size": size, "kind": kind, "state": state, "batch_id": batch_id,
               "remote_mtime": remote_mtime, "detail": detail, "first_seen_at": at,
               "done_at": at if done else None, "version": 1}
        result = self._conn.execute(insert_ignore(self._conn, file_transfers), [row])
        return result.rowcount == 1

    def get(self, bank: str, direction: str, name: str, sha256: str, *,
            lock: bool = False) -> Transfer | None:
        """The row of this file, if any."""
        query = select(file_transfers).where(t.bank == bank, t.direction == direction,
                                             t.name == name, t.sha256 == sha256)
        if lock:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _transfer(row)

    def by_name(self, bank: str, direction: str, name: str) -> list[Transfer]:
        """Every content seen under this name, oldest first."""
        rows = self._conn.execute(select(file_transfers).where(
            t.bank == bank, t.direction == direction, t.name == name).order_by(t.id))
        return [_transfer(r) for r in rows]

    def by_content(self, bank: str, direction: str, sha256: str) -> list[Transfer]:
        """Every name this content was seen under, oldest first."""
        rows = self._conn.execute(select(file_transfers).where(
            t.bank == bank, t.direction == direction, t.sha256 == sha256).order_by(t.id))
        return [_transfer(r) for r in rows]

    def mark(self, transfer: Transfer, state: str, *, at: datetime,
             detail: str | None = None, done: bool = True) -> Transfer:
        """Move a transfer to `state` (compare-and-set on its version)."""
        values: dict[str, Any] = {"state": state, "version": transfer.version + 1}
        if detail is not None:
            values["detail"] = detail
        if done:
            values["done_at"] = at
        result = self._conn.execute(update(file_transfers).where(
            t.id == transfer.id, t.version == transfer.version).values(**values))
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"file transfer {transfer.id} changed meanwhile")
        return Transfer(**{**_as_dict(transfer), **values,
                           "done_at": at if done else transfer.done_at})

    def content(self, transfer: Transfer) -> bytes:
        """The bytes of a transfer as received (from the raw archive)."""
        data = read_raw(self._conn, transfer.sha256)
        if data is None:
            raise LookupError(f"transfer {transfer.id}: its raw file is not archived")
        return data

    def all(self, *, bank: str | None = None, direction: str | None = None) -> list[Transfer]:
        """Transfers, oldest first (of one bank or direction, if given)."""
        query = select(file_transfers).order_by(t.id)
        if bank is not None:
            query = query.where(t.bank == bank)
        if direction is not None:
            query = query.where(t.direction == direction)
        return [_transfer(r) for r in self._conn.execute(query)]


def _as_dict(transfer: Transfer) -> dict[str, Any]:
    return {name: getattr(transfer, name) for name in Transfer.__dataclass_fields__}
