"""The flows' recurring jobs (issue 7): claim cut-offs, the daily receipts, following flows.

Nobody has to call anything: `schedule_flow_jobs` (run when `bankgate worker` starts) queues

- `claim_cutoff` at the next cut-off time (`[flows] claim_cutoffs`, Shanghai wall time): it
  pays every claim approved before it from `claims_debtor` (`pay_approved_claims`), then
  queues the next cut-off;
- `fetch_receipts` on the `receipts` cron (Shanghai time; daily by default): the receipts of
  the day `receipts_days_back` days before, then the next run;
- `follow_flows` every `follow_every_s`: claims and transfers follow their payment orders;
  a status poll that moved orders makes the waiting one due at once (`follow_now`), so a
  claim is marked paid without waiting for the next round.

Like sync's schedule, each recurring job carries its schedule in its payload and waits under
a dedupe key, so scheduling again is a no-op; a future one is not work left to do for
`worker --until-idle` (`RECURRING`).

```toml
[flows]
claims_debtor = "icbc-cny"          # paying account of claims; no cut-off job without it
claim_cutoffs = ["10:00", "15:00"]  # Asia/Shanghai
receipts = "0 8 * * *"              # cron, Asia/Shanghai
receipts_days_back = 1
follow_every_s = 300
webhook_url = "https://erp.example/hooks/bankgate"   # optional: claim events to the ERP
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

from croniter import croniter

from bankgate.connectors.base import Channel
from bankgate.errors import ConfigError
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.claim_payments import (
    BUSINESS_TZ,
    DEFAULT_CUTOFFS,
    follow_claims,
    next_cutoff,
    pay_approved_claims,
)
from bankgate.services.receipts import fetch_receipts
from bankgate.services.sync import next_run
from bankgate.services.transfers import follow_transfers
from bankgate.store import NewJob, UnitOfWork

__all__ = ["CUTOFF", "FLOW_HANDLERS", "FOLLOW", "RECEIPTS", "FlowJobsConfig",
           "flow_jobs_config", "follow_now", "run_cutoff_job", "run_follow_job",
           "run_receipts_job", "schedule_flow_jobs"]

CUTOFF: Final = "claim_cutoff"
RECEIPTS: Final = "fetch_receipts"
FOLLOW: Final = "follow_flows"
_KEYS: Final = {"claims_debtor", "claim_cutoffs", "receipts", "receipts_days_back",
                "follow_every_s", "webhook_url"}


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowJobsConfig:
    """The `[flows]` section: when the flows' jobs run."""

    claims_debtor: str | None = None
    claim_cutoffs: tuple[time, ...] = DEFAULT_CUTOFFS
    receipts: str = "0 8 * * *"
    receipts_days_back: int = 1
    follow_every_s: float = 300.0
    webhook_url: str | None = None


def flow_jobs_config(raw: Any) -> FlowJobsConfig:
    """The `[flows]` table checked key by key; ConfigError names the bad one."""
    if not isinstance(raw, Mapping):
        raise ConfigError("flows: expected a table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"flows: unknown key {unknown[0]!r} ({', '.join(sorted(_KEYS))})")
    cron = raw.get("receipts", "0 8 * * *")
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise ConfigError(f"flows.receipts: {cron!r} is not a cron expression")
    back, every = raw.get("receipts_days_back", 1), raw.get("follow_every_s", 300)
    if isinstance(back, bool) or not isinstance(back, int) or not 0 <= back <= 31:
        raise ConfigError(f"flows.receipts_days_back: {back!r} is not a whole number 0–31")
    if isinstance(every, bool) or not isinstance(every, int | float) or not 1 <= every <= 86400:
        raise ConfigError(f"flows.follow_every_s: {every!r} is not a number of seconds 1–86400")
    for key in ("claims_debtor", "webhook_url"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(f"flows.{key}: {raw[key]!r} is not a string")
    return FlowJobsConfig(claims_debtor=raw.get("claims_debtor"),
                          claim_cutoffs=_cutoffs(raw.get("claim_cutoffs")), receipts=cron,
                          receipts_days_back=back, follow_every_s=float(every),
                          webhook_url=raw.get("webhook_url"))


def _cutoffs(raw: Any) -> tuple[time, ...]:
    if raw is None:
        return DEFAULT_CUTOFFS
    if not isinstance(raw, list) or not raw:
        raise ConfigError("flows.claim_cutoffs: expected a list of HH:MM times")
    try:
        return tuple(sorted(time.fromisoformat(str(t)) for t in raw))
    except ValueError as exc:
        raise ConfigError(f"flows.claim_cutoffs: {raw!r} is not a list of HH:MM times") from exc


def _payload(config: FlowJobsConfig) -> dict[str, Any]:
    return {"claims_debtor": config.claims_debtor,
            "claim_cutoffs": [t.isoformat() for t in config.claim_cutoffs],
            "receipts": config.receipts, "receipts_days_back": config.receipts_days_back,
            "follow_every_s": config.follow_every_s, "webhook_url": config.webhook_url}


def _config(payload: Mapping[str, Any]) -> FlowJobsConfig:
    return flow_jobs_config(payload)


def _cutoff_job(config: FlowJobsConfig, at: datetime) -> NewJob:
    delay = (next_cutoff(at, config.claim_cutoffs) - at).total_seconds()
    return NewJob(CUTOFF, _payload(config), dedupe_key=CUTOFF, delay_s=max(0.0, delay),
                  max_attempts=50)


def _receipts_job(config: FlowJobsConfig, at: datetime) -> NewJob:
    delay = (next_run(config.receipts, at, BUSINESS_TZ) - at).total_seconds()
    return NewJob(RECEIPTS, _payload(config), dedupe_key=RECEIPTS, delay_s=max(0.0, delay),
                  max_attempts=50)


def _follow_job(config: FlowJobsConfig) -> NewJob:
    return NewJob(FOLLOW, _payload(config), dedupe_key=FOLLOW, delay_s=config.follow_every_s,
                  max_attempts=50)


def follow_now(unit: UnitOfWork, *, at: datetime) -> None:
    """Payments changed: the waiting follow of claims and transfers runs at once (if any)."""
    unit.jobs.hurry(FOLLOW, now=at)


def schedule_flow_jobs(*, uow: UowFactory, config: FlowJobsConfig,
                       now: Callable[[], datetime]) -> int:
    """Queue the flows' recurring jobs (no-op for those already waiting)."""
    def enqueue(unit: UnitOfWork) -> int:
        at = now()
        jobs = [_receipts_job(config, at), _follow_job(config)]
        if config.claims_debtor:
            jobs.append(_cutoff_job(config, at))
        unit.jobs.enqueue_many(jobs, now=at)
        return len(jobs)

    return in_transaction(uow, enqueue)


def _again(uow: UowFactory, job: NewJob, at: datetime) -> None:
    in_transaction(uow, lambda unit: unit.jobs.enqueue(job, now=at))


def run_cutoff_job(*, uow: UowFactory, channels: Mapping[str, Channel],
                   now: Callable[[], datetime], payload: Mapping[str, Any]) -> str:
    """The worker's handler: pay the claims approved before the cut-off, queue the next."""
    config = _config(payload)
    if config.claims_debtor is None:
        return "no claims_debtor configured"
    run = pay_approved_claims(uow=uow, channels=channels, debtor_id=config.claims_debtor,
                              now=now, today=now().astimezone(BUSINESS_TZ).date(),
                              cutoffs=config.claim_cutoffs, webhook_url=config.webhook_url)
    at = now()
    _again(uow, _cutoff_job(config, at), at)
    return f"{len(run.paying)} paying, {len(run.blocked)} blocked, {run.waiting} waiting"


def run_receipts_job(*, uow: UowFactory, channels: Mapping[str, Channel],
                     now: Callable[[], datetime], payload: Mapping[str, Any]) -> str:
    """The worker's handler: fetch the receipts of the configured day, queue the next run."""
    config = _config(payload)
    day = now().astimezone(BUSINESS_TZ).date() - timedelta(days=config.receipts_days_back)
    fetched = fetch_receipts(uow=uow, channels=channels, on=day, now=now)
    at = now()
    _again(uow, _receipts_job(config, at), at)
    return f"receipts of {day}: {fetched}"


def run_follow_job(*, uow: UowFactory, channels: Mapping[str, Channel],
                   now: Callable[[], datetime], payload: Mapping[str, Any]) -> str:
    """The worker's handler: claims and transfers follow their orders, then the next round."""
    config = _config(payload)
    claims = follow_claims(uow=uow, now=now, webhook_url=config.webhook_url)
    transfers = follow_transfers(uow=uow, channels=channels, now=now)
    _again(uow, _follow_job(config), now())
    return f"claims {claims}, transfers {transfers}"


#: Job kind → handler, registered in services/jobs.py; all of them recurring.
FLOW_HANDLERS: Final[Mapping[str, Callable[..., str]]] = {
    CUTOFF: run_cutoff_job, RECEIPTS: run_receipts_job, FOLLOW: run_follow_job}
