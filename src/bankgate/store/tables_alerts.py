"""Tables of the alerts (issue 5, I-10): the alerts and their deliveries to people and systems.

`alerts` is unique by (kind, subject, level, occurrence): raising one again refreshes
`last_seen` and `seen_count` (services/alerts.py). `alert_deliveries` is the outbox of the
webhook calls and mails an alert causes, one row per alert and recipient, sent at least once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bankgate.store.tables import UtcDateTime, metadata, serial_id

__all__ = ["alert_deliveries", "alerts"]



alerts = Table(
    "alerts", metadata,
    serial_id(),
    Column("kind", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("level", String(8), nullable=False),  # warn, critical
    Column("occurrence", String(40), nullable=False),  # expiry date, lock time; "" if none
    Column("message", Text, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("seen_count", Integer, nullable=False),
    Column("acknowledged_by", String(80)),
    Column("acknowledged_at", UtcDateTime),
    UniqueConstraint("kind", "subject", "level", "occurrence"),
    Index(None, "acknowledged_at"),
)

alert_deliveries = Table(
    "alert_deliveries", metadata,
    serial_id(),
    Column("alert_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("alerts.id"),
           nullable=False),
    Column("channel", String(10), nullable=False),  # webhook, email
    Column("recipient", String(254), nullable=False),
    Column("state", String(10), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    UniqueConstraint("alert_id", "channel", "recipient"),
    Index(None, "state"),
)
