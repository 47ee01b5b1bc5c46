"""Alerts as a first-class thing (issue 5, I-10, A-10, A-12): raised, deduplicated, delivered,
acknowledged — and audited at each step.

Anything that will stop payments or syncs, or already has, raises an alert: the expiry watch
(services/expiry_job.py), a dispatch or sync refused because our certificate expired
(services/dispatch.py, services/sync.py), a TOTP factor locked after five wrong codes
(services/users.py), a signing token locked after wrong PINs (services/tokens.py). Raising
the same alert again (same kind, subject, level and occurrence) refreshes `last_seen` and
`seen_count` instead of adding a copy. A new alert is audited (`alert.raised`) and queues an
`alerts.deliver` job in the same transaction; that job sends every open alert once to each
configured channel — a signed webhook and/or mail (notify/) — through the `alert_deliveries`
outbox, so a delivery that fails is tried again and a crash loses none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from bankgate.domain import mask_numbers
from bankgate.domain.alerts import Alert, AlertLevel, NewAlert
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.people import Role, User
from bankgate.errors import CertificateExpired, ConcurrentUpdate, PermissionDenied
from bankgate.notify import DeliveryFailed, Mailer, SmtpConfig, WebhookSender
from bankgate.services._tx import RetryLater, UowFactory, in_transaction
from bankgate.store import NewJob, UnitOfWork

__all__ = ["ACK_ROLES", "DELIVER", "AlertChannels", "acknowledge_alert", "alert_view",
           "certificate_expired_alert",
           "deliver_alerts", "list_alerts", "new_alert", "raise_alert", "raise_alert_now",
           "run_deliver_job"]

log = logging.getLogger(__name__)
DELIVER: Final = "alerts.deliver"
#: Who may acknowledge an alert: the treasury administrators (资金主管/管理员).
ACK_ROLES: Final = frozenset({Role.TREASURER_ADMIN})
MAX_DELIVERY_ATTEMPTS: Final = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChannels:
    """Where alerts go; with none configured they are stored, listed and audited only."""

    webhook_url: str | None = None
    webhook_secret: bytes = field(default=b"", repr=False)
    mail_to: tuple[str, ...] = ()
    smtp: SmtpConfig | None = None

    def recipients(self) -> list[tuple[str, str]]:
        """(channel, recipient) pairs an alert is sent to."""
        found = [("webhook", self.webhook_url)] if self.webhook_url else []
        if self.smtp is not None:
            found.extend(("email", to) for to in self.mail_to)
        return found


def new_alert(kind: str, subject: str, level: AlertLevel, message: str, *,
              occurrence: str = "") -> NewAlert:
    """A NewAlert whose subject and message have account numbers masked (INV-7, A-17)."""
    return NewAlert(kind=kind, subject=mask_numbers(subject)[:200], level=level,
                    message=mask_numbers(message), occurrence=occurrence)


def certificate_expired_alert(exc: CertificateExpired, stopped: str) -> NewAlert:
    """The critical alert for work refused because our certificate for a bank expired."""
    return new_alert("certificate.expired", f"certificate {exc.subject}", AlertLevel.CRITICAL,
                     f"{stopped}: {exc}", occurrence=exc.expired_on)


def raise_alert(unit: UnitOfWork, new: NewAlert, *, at: datetime,
                actor: str = "system:alerts") -> tuple[Alert, bool]:
    """Raise (or refresh) an alert in the caller's transaction; (alert, True if new).

    A new alert is audited and queues its delivery in the same transaction.
    """
    alert, created = unit.alerts.raise_(new, at=at)
    if created:
        unit.audit.append(AuditRecord(
            at=at, actor=actor, action="alert.raised", subject_kind="alert",
            subject_id=str(alert.id), to_status=alert.level.value,
            detail={"kind": alert.kind, "subject": alert.subject,
                    "occurrence": alert.occurrence, "message": alert.message}))
        unit.jobs.enqueue(NewJob(DELIVER, {}, dedupe_key=DELIVER, max_attempts=50), now=at)
        log.log(logging.ERROR if alert.level is AlertLevel.CRITICAL else logging.WARNING,
                "alert raised", extra={"alert": alert.id, "kind": alert.kind,
                                       "subject": alert.subject, "level": alert.level.value})
    return alert, created


def raise_alert_now(*, uow: UowFactory, new: NewAlert, now: Callable[[], datetime],
                    actor: str = "system:alerts") -> Alert:
    """Raise an alert in a transaction of its own (after a failure was recorded)."""
    return in_transaction(uow, lambda unit: raise_alert(unit, new, at=now(), actor=actor)[0])


def list_alerts(*, uow: UowFactory, include_acknowledged: bool = False) -> list[Alert]:
    """Open alerts (or all), critical first, then the most recently seen."""
    with uow() as unit:
        return unit.alerts.find(include_acknowledged=include_acknowledged)


def acknowledge_alert(*, uow: UowFactory, alert_id: int, by: User,
                      now: Callable[[], datetime]) -> Alert:
    """A treasury administrator acknowledges an alert; audited.

    Raises:
        PermissionDenied: `by` holds none of ACK_ROLES.
        NotFound: no such alert.
        ConcurrentUpdate: it was acknowledged already (by whom and when is said).
    """
    if not by.roles & ACK_ROLES:
        raise PermissionDenied(f"{by.actor} may not acknowledge alerts (needs the role "
                               f"{', '.join(sorted(ACK_ROLES))})")

    def work(unit: UnitOfWork) -> Alert:
        alert = unit.alerts.get(alert_id, lock=True)
        at = now()
        if not unit.alerts.acknowledge(alert_id, by=by.actor, at=at):
            when = f"{alert.acknowledged_at:%Y-%m-%d %H:%M} UTC" if alert.acknowledged_at else ""
            raise ConcurrentUpdate(f"alert {alert_id} was already acknowledged by "
                                   f"{alert.acknowledged_by} at {when}")
        unit.audit.append(AuditRecord(
            at=at, actor=by.actor, action="alert.acknowledged", subject_kind="alert",
            subject_id=str(alert_id), from_status=alert.level.value,
            detail={"kind": alert.kind, "subject": alert.subject}))
        return unit.alerts.get(alert_id)

    return in_transaction(uow, work)


def alert_view(alert: Alert) -> dict[str, Any]:
    """An alert as JSON-ready values."""
    return {"id": alert.id, "kind": alert.kind, "subject": alert.subject,
            "level": alert.level.value, "message": alert.message,
            "occurrence": alert.occurrence or None,
            "first_seen": alert.first_seen.isoformat(),
            "last_seen": alert.last_seen.isoformat(), "seen_count": alert.seen_count,
            "acknowledged_by": alert.acknowledged_by,
            "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at
            else None}


# -- delivery ------------------------------------------------------------------------------

def deliver_alerts(*, uow: UowFactory, channels: AlertChannels,
                   now: Callable[[], datetime]) -> dict[str, int]:
    """Queue every open alert once per configured recipient, then send what is pending."""
    recipients = channels.recipients()
    counts = {"sent": 0, "failed": 0}
    if not recipients:
        return counts
    in_transaction(uow, lambda unit: _queue_open(unit, recipients, now()))
    with uow() as unit:
        pending = [(d, unit.alerts.get(int(d["alert_id"])))
                   for d in unit.alerts.pending_deliveries()]
    webhook = (WebhookSender(channels.webhook_url, channels.webhook_secret)
               if channels.webhook_url else None)
    mailer = Mailer(channels.smtp) if channels.smtp else None
    try:
        for delivery, alert in pending:
            error = _send(delivery, alert, webhook, mailer)
            _record(uow, delivery, error, now())
            counts["sent" if error is None else "failed"] += 1
    finally:
        if webhook is not None:
            webhook.close()
    return counts


def _record(uow: UowFactory, delivery: Mapping[str, Any], error: str | None,
            at: datetime) -> None:
    give_up = error is not None and delivery["attempts"] + 1 >= MAX_DELIVERY_ATTEMPTS
    in_transaction(uow, lambda unit: unit.alerts.mark_delivery(
        int(delivery["id"]), sent=error is None, at=at, error=error, give_up=give_up))


def _queue_open(unit: UnitOfWork, recipients: Sequence[tuple[str, str]], at: datetime) -> None:
    for alert in unit.alerts.find():
        for channel, recipient in recipients:
            unit.alerts.add_delivery(alert.id, channel=channel, recipient=recipient, at=at)


def _send(delivery: Mapping[str, Any], alert: Alert, webhook: WebhookSender | None,
          mailer: Mailer | None) -> str | None:
    event = f"alert:{alert.id}"
    try:
        if delivery["channel"] == "webhook":
            if webhook is None or webhook.url != delivery["recipient"]:
                return "the webhook URL is no longer configured"
            body = {"event": "alert.raised", "alert": alert_view(alert)}
            webhook.send(event, json.dumps(body, ensure_ascii=False).encode())
        else:
            if mailer is None:
                return "no SMTP server is configured"
            mailer.send(str(delivery["recipient"]),
                        f"[bankgate] {alert.level.value.upper()} {alert.kind}: {alert.subject}",
                        f"{alert.message}\n\nfirst seen {alert.first_seen:%Y-%m-%d %H:%M} UTC;"
                        f" acknowledge with `bankgate alerts ack {alert.id}`.\n",
                        message_id=f"<alert.{alert.id}@bankgate>")
    except DeliveryFailed as exc:
        log.warning("alert delivery failed", extra={"alert": alert.id, "error": str(exc)})
        return str(exc)
    return None


def run_deliver_job(*, uow: UowFactory, channels: AlertChannels,
                    now: Callable[[], datetime]) -> str:
    """The worker's handler: deliver; what failed is tried again a minute later (bounded)."""
    if not channels.recipients():
        return "no alert channel configured"
    counts = deliver_alerts(uow=uow, channels=channels, now=now)
    if counts["failed"]:
        raise RetryLater(60.0,
                         f"{counts['failed']} alert deliveries failed, {counts['sent']} sent")
    return f"{counts['sent']} alert deliveries sent"
