"""Each order's route: the rail chosen, why, and when it departs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from bankgate.domain.routing import Route
from bankgate.store.tables_flows import order_routes

__all__ = ["RouteRepository"]


class RouteRepository:
    """Routes by order id (routing an order again replaces its route)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def put_many(self, items: Sequence[tuple[str, Route, bool]], *, at: datetime) -> None:
        """Store (order id, route, urgent) for each order."""
        if not items:
            return
        ids = [order_id for order_id, _, _ in items]
        self._conn.execute(delete(order_routes).where(order_routes.c.order_id.in_(ids)))
        self._conn.execute(order_routes.insert(), [
            {"order_id": order_id, "rail": r.rail, "rail_name": r.rail_name[:80],
             "urgent": urgent, "explanation": r.explanation[:400],
             "considered": json.dumps(list(r.considered), ensure_ascii=False),
             "departs_at": r.departs_at, "decided_at": at} for order_id, r, urgent in items])

    def get(self, order_id: str) -> dict[str, Any] | None:
        """The order's route as stored (None when it was never routed)."""
        row = self._conn.execute(select(order_routes)
                                 .where(order_routes.c.order_id == order_id)).first()
        if row is None:
            return None
        return {**row._mapping, "considered": json.loads(row.considered)}
