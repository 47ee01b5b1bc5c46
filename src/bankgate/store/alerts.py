"""Alerts and their deliveries (tables_alerts.py): raise once, refresh after, acknowledge once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, case, select, update

from bankgate.domain.alerts import Alert, AlertLevel, NewAlert
from bankgate.errors import NotFound
from bankgate.store._sql import dialect, insert_ignore
from bankgate.store.tables_alerts import alert_deliveries, alerts

__all__ = ["AlertRepository"]

_a = alerts.c
_d = alert_deliveries.c


class AlertRepository:
    """Alerts by id; `raise_` deduplicates by (kind, subject, level, occurrence)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def raise_(self, new: NewAlert, *, at: datetime) -> tuple[Alert, bool]:
        """Insert the alert, or refresh the one with the same key; (alert, True if new)."""
        insert = insert_ignore(self._conn, alerts).values(
            kind=new.kind, subject=new.subject, level=new.level.value,
            occurrence=new.occurrence, message=new.message, first_seen=at, last_seen=at,
            seen_count=1)
        if dialect(self._conn) == "mysql":  # INSERT IGNORE has no RETURNING there
            created = self._conn.execute(insert).rowcount == 1
        else:  # psycopg reports rowcount -1 for this insert; RETURNING says it exactly
            created = self._conn.execute(insert.returning(_a.id)).first() is not None
        key = and_(_a.kind == new.kind, _a.subject == new.subject,
                   _a.level == new.level.value, _a.occurrence == new.occurrence)
        if not created:
            self._conn.execute(update(alerts).where(key).values(
                last_seen=case((_a.last_seen < at, at), else_=_a.last_seen),
                seen_count=_a.seen_count + 1, message=new.message))
        row = self._conn.execute(select(alerts).where(key)).one()
        return _alert(row), created

    def get(self, alert_id: int, *, lock: bool = False) -> Alert:
        """One alert; NotFound names the id."""
        query = select(alerts).where(_a.id == alert_id)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        return _alert(row)

    def find(self, *, include_acknowledged: bool = False, limit: int = 500) -> list[Alert]:
        """Alerts, critical first, then the most recently seen."""
        query = select(alerts)
        if not include_acknowledged:
            query = query.where(_a.acknowledged_at.is_(None))
        order = case((_a.level == AlertLevel.CRITICAL.value, 0), else_=1)
        rows = self._conn.execute(query.order_by(order, _a.last_seen.desc(), _a.id.desc())
                                  .limit(limit))
        return [_alert(r) for r in rows]

    def acknowledge(self, alert_id: int, *, by: str, at: datetime) -> bool:
        """Mark it acknowledged; False when it already was (the first one wins)."""
        done = self._conn.execute(update(alerts).where(
            _a.id == alert_id, _a.acknowledged_at.is_(None)).values(
            acknowledged_by=by[:80], acknowledged_at=at))
        return bool(done.rowcount == 1)

    def open_for(self, subject: str, occurrence: str) -> list[Alert]:
        """Open alerts about one subject and occurrence (any kind or level), oldest first."""
        rows = self._conn.execute(select(alerts).where(
            _a.subject == subject, _a.occurrence == occurrence,
            _a.acknowledged_at.is_(None)).order_by(_a.id))
        return [_alert(r) for r in rows]

    # -- the outbox of deliveries -----------------------------------------------------------

    def add_delivery(self, alert_id: int, *, channel: str, recipient: str,
                     at: datetime) -> None:
        """Queue one message about the alert; the same one queued again is ignored."""
        self._conn.execute(insert_ignore(self._conn, alert_deliveries), [{
            "alert_id": alert_id, "channel": channel, "recipient": recipient[:254],
            "state": "pending", "attempts": 0, "created_at": at}])

    def pending_deliveries(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Messages not yet sent, oldest first."""
        rows = self._conn.execute(select(alert_deliveries).where(_d.state == "pending")
                                  .order_by(_d.id).limit(limit))
        return [dict(r._mapping) for r in rows]

    def deliveries(self, alert_id: int) -> list[dict[str, Any]]:
        """Every message about one alert."""
        rows = self._conn.execute(select(alert_deliveries).where(_d.alert_id == alert_id)
                                  .order_by(_d.id))
        return [dict(r._mapping) for r in rows]

    def mark_delivery(self, delivery_id: int, *, sent: bool, at: datetime,
                      error: str | None = None, give_up: bool = False) -> None:
        """Record one attempt."""
        state = "sent" if sent else ("failed" if give_up else "pending")
        self._conn.execute(update(alert_deliveries).where(_d.id == delivery_id).values(
            state=state, attempts=_d.attempts + 1, last_error=error[:255] if error else None,
            sent_at=at if sent else None))


def _alert(row: Row[Any]) -> Alert:
    return Alert(id=row.id, kind=row.kind, subject=row.subject, level=AlertLevel(row.level),
                 message=row.message, occurrence=row.occurrence, first_seen=row.first_seen,
                 last_seen=row.last_seen, seen_count=row.seen_count,
                 acknowledged_by=row.acknowledged_by, acknowledged_at=row.acknowledged_at)
