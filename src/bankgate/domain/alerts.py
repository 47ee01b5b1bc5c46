"""Alerts: something a person must act on before payments or syncs stop (issue 5, I-10).

An alert is identified by its kind, subject, level and occurrence (the expiry date, or the
moment of a lock): raising the same one again refreshes it instead of adding a copy, so a
daily watch does not pile up alerts, and an acknowledged alert stays acknowledged for that
occurrence — a renewed certificate that nears its own expiry later is a new alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

__all__ = ["KINDS", "Alert", "AlertLevel", "NewAlert"]

#: The kinds raised today; the store accepts any `family.event` name of up to 40 characters.
KINDS: Final = frozenset({
    "certificate.expiring", "certificate.expired", "token.pin_expiring", "token.pin_expired",
    "credential.expiring", "credential.expired", "totp.locked", "token.pin_locked"})


class AlertLevel(StrEnum):
    """How urgent: warn (act soon) or critical (something stops, or has stopped)."""

    WARN = "warn"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAlert:
    """What a watch or a failure reports; the store makes it an `Alert` (or refreshes one)."""

    kind: str
    subject: str  # what it is about, masked: "certificate icbc client", "user alice"
    level: AlertLevel
    message: str
    occurrence: str = ""  # the expiry date, the lock time: a new one is a new alert

    def __post_init__(self) -> None:
        family, dot, event = self.kind.partition(".")
        if not (family and dot and event) or len(self.kind) > 40:
            raise ValueError(f"alert kind {self.kind!r}: expected 'family.event', ≤ 40 chars")
        if not self.subject.strip() or len(self.subject) > 200:
            raise ValueError(f"alert subject {self.subject!r}: 1–200 characters")
        if len(self.occurrence) > 40:
            raise ValueError(f"alert occurrence {self.occurrence!r}: ≤ 40 characters")


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A stored alert: first and last seen, how often, and who acknowledged it."""

    id: int
    kind: str
    subject: str
    level: AlertLevel
    message: str
    occurrence: str
    first_seen: datetime
    last_seen: datetime
    seen_count: int
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Not yet acknowledged."""
        return self.acknowledged_at is None
