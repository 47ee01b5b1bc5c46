"""The expiry watch as a recurring job (`security.expiry`, issue 5, I-10): alerts, not logs.

The worker queues it when it starts (first run at once), then it queues its own next run:
every `expiry_every_s` (default daily) or on `expiry_cron` (Asia/Shanghai wall time). Each
run reads the watch (services/expiry.py: the `[security]` table's certificates, token PINs
and credentials — certificate files are read afresh, so a renewed one is seen) and raises
or refreshes one alert per item inside the warning window:

| days left            | alert kind                                   | level    |
|----------------------|----------------------------------------------|----------|
| ≤ warn_days (30)     | certificate.expiring, token.pin_expiring, credential.expiring | warn     |
| ≤ critical_days (7)  | the same kind                                | critical |
| expired              | certificate.expired, token.pin_expired, credential.expired   | critical |

Escalation is a new alert (a new level or kind), so it is delivered again, and it closes the
open alerts it replaces (acknowledged by the watch, audited `alert.superseded`); the same
level on the next day only refreshes the one raised before. A watch that cannot be read (a
certificate file gone) is itself a critical alert, `security.watch_failed`.

```toml
[security]
warn_days = 30
critical_days = 7
expiry_every_s = 86400          # or: expiry_cron = "0 8 * * *" (Asia/Shanghai)
alert_webhook_url = "https://erp.example/hooks/bankgate-alerts"   # BANKGATE_WEBHOOK_SECRET
alert_mail_to = ["treasury@example.com"]                          # BANKGATE_SMTP_*
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from croniter import croniter

from bankgate.domain.alerts import Alert, AlertLevel, NewAlert
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import ConfigError
from bankgate.notify import SmtpConfig
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.alerts import AlertChannels, new_alert, raise_alert
from bankgate.services.expiry import Finding, Level, check_expiry, load_watch
from bankgate.services.sync import next_run
from bankgate.store import NewJob, UnitOfWork

__all__ = ["KIND", "SecurityConfig", "expiry_alert", "run_expiry_job", "schedule_expiry",
           "security_config"]

KIND: Final = "security.expiry"
DEFAULT_CRITICAL_DAYS: Final = 7
DEFAULT_EVERY_S: Final = 86400.0
_ZONE: Final = ZoneInfo("Asia/Shanghai")
_ACTOR: Final = "system:expiry-watch"
_WATCH_KEYS: Final = {"warn_days", "certificate", "token", "credential"}
_OWN_KEYS: Final = {"critical_days", "expiry_every_s", "expiry_cron", "alert_webhook_url",
                    "alert_mail_to"}
#: Watched item kind → (alert kind before expiry, alert kind after), and the subject's noun.
_KINDS: Final = {"certificate": ("certificate.expiring", "certificate.expired", "certificate"),
                 "token_pin": ("token.pin_expiring", "token.pin_expired", "token"),
                 "credential": ("credential.expiring", "credential.expired", "credential")}


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityConfig:
    """The `[security]` table: what the watch reads, when it runs, where alerts go."""

    watch: Mapping[str, Any] = field(default_factory=dict)
    base: Path = Path(".")  # relative certificate paths start here (the config's folder)
    critical_days: int = DEFAULT_CRITICAL_DAYS
    every_s: float = DEFAULT_EVERY_S
    cron: str | None = None
    alerts: AlertChannels = field(default_factory=AlertChannels)


def security_config(raw: Any, *, base: Path, env: Mapping[str, str]) -> SecurityConfig:
    """The `[security]` table checked key by key; ConfigError names the bad one.

    The webhook secret and the SMTP server come from the environment, as for claims'
    notifications (BANKGATE_WEBHOOK_SECRET, BANKGATE_SMTP_HOST/PORT/FROM/STARTTLS).
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("security: expected a table")
    unknown = sorted(set(raw) - _WATCH_KEYS - _OWN_KEYS)
    if unknown:
        raise ConfigError(f"security: unknown key {unknown[0]!r} "
                          f"({', '.join(sorted(_WATCH_KEYS | _OWN_KEYS))})")
    critical = raw.get("critical_days", DEFAULT_CRITICAL_DAYS)
    if isinstance(critical, bool) or not isinstance(critical, int) or not 0 <= critical <= 365:
        raise ConfigError(f"security.critical_days: {critical!r} is not a whole number 0–365")
    every = raw.get("expiry_every_s", DEFAULT_EVERY_S)
    if (isinstance(every, bool) or not isinstance(every, int | float)
            or not 60 <= every <= 7 * 86400):
        raise ConfigError(f"security.expiry_every_s: {every!r} is not a number of seconds "
                          "60–604800")
    cron = raw.get("expiry_cron")
    if cron is not None and (not isinstance(cron, str) or not croniter.is_valid(cron)):
        raise ConfigError(f"security.expiry_cron: {cron!r} is not a cron expression")
    return SecurityConfig(watch=dict(raw), base=base, critical_days=critical,
                          every_s=float(every), cron=cron, alerts=_channels(raw, env))


def _channels(raw: Mapping[str, Any], env: Mapping[str, str]) -> AlertChannels:
    url = raw.get("alert_webhook_url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("https://",
                                                                           "http://"))):
        raise ConfigError(f"security.alert_webhook_url: {url!r} is not an http(s) URL")
    mail_to = raw.get("alert_mail_to", [])
    if not isinstance(mail_to, list) or not all(isinstance(m, str) and "@" in m
                                                for m in mail_to):
        raise ConfigError(f"security.alert_mail_to: {mail_to!r} is not a list of addresses")
    secret = env.get("BANKGATE_WEBHOOK_SECRET", "").encode()
    if url and len(secret) < 16:
        raise ConfigError("security.alert_webhook_url: set BANKGATE_WEBHOOK_SECRET (at least "
                          "16 bytes) to sign the alerts")
    host = env.get("BANKGATE_SMTP_HOST")
    smtp = SmtpConfig(host=host, port=int(env.get("BANKGATE_SMTP_PORT") or "25"),
                      sender=env.get("BANKGATE_SMTP_FROM") or "bankgate@localhost",
                      starttls=env.get("BANKGATE_SMTP_STARTTLS") == "1") if host else None
    return AlertChannels(webhook_url=url, webhook_secret=secret, mail_to=tuple(mail_to),
                         smtp=smtp)


def expiry_alert(finding: Finding, *, critical_days: int) -> NewAlert | None:
    """The alert one finding of the watch calls for, or None when it is far off."""
    if finding.level is Level.OK:
        return None
    before, after, noun = _KINDS[finding.item.kind]
    expired = finding.level is Level.EXPIRED
    critical = expired or finding.days_left <= critical_days
    what = "payments and syncs that need it stop" + ("ped" if expired else " then")
    return new_alert(after if expired else before, f"{noun} {finding.item.name}",
                     AlertLevel.CRITICAL if critical else AlertLevel.WARN,
                     f"{finding.line()}; {what}. Renew it and update the configuration.",
                     occurrence=finding.item.expires_at.date().isoformat())


def _supersede(unit: UnitOfWork, alert: Alert, at: datetime) -> None:
    """An escalation closes what it replaces: the open warn (or expiring) alerts about the
    same item and expiry date, acknowledged by the watch itself and audited."""
    for older in unit.alerts.open_for(alert.subject, alert.occurrence):
        if older.id == alert.id or not older.kind.startswith(alert.kind.split(".")[0]):
            continue
        unit.alerts.acknowledge(older.id, by=f"{_ACTOR} (superseded by {alert.id})", at=at)
        unit.audit.append(AuditRecord(
            at=at, actor=_ACTOR, action="alert.superseded", subject_kind="alert",
            subject_id=str(older.id), from_status=older.level.value,
            to_status=alert.level.value, detail={"by_alert": alert.id, "kind": alert.kind}))


def _job(config: SecurityConfig, at: datetime, *, first: bool = False) -> NewJob:
    if first:
        delay = 0.0
    elif config.cron:
        delay = (next_run(config.cron, at, _ZONE) - at).total_seconds()
    else:
        delay = config.every_s
    return NewJob(KIND, {}, dedupe_key=KIND, delay_s=max(0.0, delay), max_attempts=50)


def schedule_expiry(*, uow: UowFactory, config: SecurityConfig,
                    now: Callable[[], datetime]) -> int:
    """Queue the watch to run at once (no-op when a run is already waiting)."""
    def enqueue(unit: UnitOfWork) -> int:
        unit.jobs.enqueue(_job(config, now(), first=True), now=now())
        return 1

    return in_transaction(uow, enqueue)


def run_expiry_job(*, uow: UowFactory, config: SecurityConfig,
                   now: Callable[[], datetime]) -> str:
    """The worker's handler: check what expires, raise or refresh alerts, queue the next run."""
    at = now()
    try:
        items, warn_days = load_watch(config.watch, base=config.base, where="security")
    except ConfigError as exc:
        broken = new_alert("security.watch_failed", "expiry watch", AlertLevel.CRITICAL,
                           f"the expiry watch cannot run: {exc}", occurrence=at.date().isoformat())
        alerts = [broken]
        watched = 0
    else:
        findings = check_expiry(items, now=at, warn_days=warn_days)
        alerts = [a for f in findings
                  if (a := expiry_alert(f, critical_days=config.critical_days)) is not None]
        watched = len(findings)

    def record(unit: UnitOfWork) -> int:
        created = 0
        for new in alerts:
            alert, is_new = raise_alert(unit, new, at=at, actor=_ACTOR)
            if is_new:
                created += 1
                _supersede(unit, alert, at)
        unit.jobs.enqueue(_job(config, at), now=at)
        return created

    created = in_transaction(uow, record)
    critical = sum(a.level is AlertLevel.CRITICAL for a in alerts)
    return (f"{watched} watched: {len(alerts) - critical} warn, {critical} critical "
            f"({created} new)")
