"""The read queries behind the cash and payment reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from bankgate.store.tables import balances, payment_orders, statements

__all__ = ["ReportRepository"]

_b, _o, _s = balances.c, payment_orders.c, statements.c


class ReportRepository:
    """Latest balances, daily closings, unpaid orders, orders by status."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def latest_balances(self) -> dict[str, dict[str, Any]]:
        """Per account, its newest booked balance snapshot (ledger) as fetched."""
        newest = (select(_b.account_id, func.max(_b.id).label("id"))
                  .where(_b.type.in_(("interim_booked", "closing_booked")))
                  .group_by(_b.account_id).subquery())
        rows = self._conn.execute(select(balances).join(newest, newest.c.id == _b.id))
        return {r.account_id: dict(r._mapping) for r in rows}

    def daily_closings(self, account_id: str, *, since: date) -> list[tuple[date, int, Any]]:
        """(day, closing minor units, fetched at) of the newest statement of each day."""
        rows = self._conn.execute(
            select(_s.on_date, _s.closing_minor, _s.fetched_at)
            .where(_s.account_id == account_id, _s.on_date >= since,
                   _s.closing_minor.is_not(None))
            .order_by(_s.on_date, _s.fetched_at))
        by_day: dict[date, tuple[date, int, Any]] = {}
        for r in rows:
            by_day[r.on_date] = (r.on_date, int(r.closing_minor), r.fetched_at)
        return list(by_day.values())

    def orders_in(self, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Orders in these statuses: debtor, amount, currency, execution date, status."""
        rows = self._conn.execute(
            select(_o.id, _o.debtor_id, _o.amount_minor, _o.currency, _o.execution_date,
                   _o.status, _o.flow).where(_o.status.in_(list(statuses))))
        return [dict(r._mapping) for r in rows]

    def orders_by_status(self) -> list[tuple[str, str, int, int]]:
        """(status, currency, count, sum of amounts in minor units)."""
        rows = self._conn.execute(
            select(_o.status, _o.currency, func.count(), func.sum(_o.amount_minor))
            .group_by(_o.status, _o.currency).order_by(_o.status, _o.currency))
        return [(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in rows]
