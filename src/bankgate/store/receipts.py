"""Electronic receipts: stored once per bank and receipt number, the PDF once by hash."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from bankgate.store._sql import insert_ignore
from bankgate.store.raw_archive import read_raw
from bankgate.store.tables import accounts, payment_orders
from bankgate.store.tables_flows import receipts

__all__ = ["ReceiptRepository"]

_r = receipts.c


class ReceiptRepository:
    """Receipts and what they prove."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_new(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert receipts not yet held (by bank and receipt number); how many were new."""
        before = self.count()
        if rows:
            self._conn.execute(insert_ignore(self._conn, receipts), list(rows))
        return self.count() - before

    def count(self) -> int:
        """How many receipts are held."""
        return int(self._conn.execute(select(func.count()).select_from(receipts)).scalar_one())

    def held(self, bank: str, numbers: Sequence[str]) -> set[str]:
        """Which of these receipt numbers of `bank` are held already."""
        if not numbers:
            return set()
        rows = self._conn.execute(select(_r.receipt_no).where(
            _r.bank == bank, _r.receipt_no.in_(list(numbers))))
        return {row[0] for row in rows}

    def get(self, receipt_id: str) -> dict[str, Any] | None:
        """One receipt's row."""
        row = self._conn.execute(select(receipts).where(_r.id == receipt_id)).first()
        return None if row is None else dict(row._mapping)

    def for_order(self, order_id: str) -> list[dict[str, Any]]:
        """The receipts of one payment order (its debit, and a return's credit)."""
        rows = self._conn.execute(select(receipts).where(_r.order_id == order_id)
                                  .order_by(_r.booked_at))
        return [dict(r._mapping) for r in rows]

    def on_day(self, day: date, *, account_id: str | None = None) -> list[dict[str, Any]]:
        """Every receipt booked on `day` (bank date), by account then number."""
        query = select(receipts).where(_r.booked_on == day).order_by(_r.account_id,
                                                                     _r.receipt_no)
        if account_id is not None:
            query = query.where(_r.account_id == account_id)
        return [dict(r._mapping) for r in self._conn.execute(query)]

    def document(self, sha256: str) -> bytes | None:
        """The stored PDF."""
        return read_raw(self._conn, sha256)

    def settled_without_receipt(self, *, settled_before: datetime, limit: int = 1000,
                                banks: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Settled orders older than `settled_before` that no receipt proves (paid from an
        account at one of `banks`, when given)."""
        po = payment_orders.c
        query = (select(po.id, po.instruction_id, po.debtor_id, po.amount_minor, po.currency,
                        po.payee_name, po.status_changed_at)
                 .select_from(payment_orders.outerjoin(receipts, and_(_r.order_id == po.id))
                              .join(accounts, accounts.c.id == po.debtor_id))
                 .where(po.status == "settled", po.status_changed_at < settled_before,
                        _r.id.is_(None))
                 .order_by(po.status_changed_at).limit(limit))
        if banks is not None:
            query = query.where(accounts.c.bank.in_(list(banks)))
        return [dict(r._mapping) for r in self._conn.execute(query)]
