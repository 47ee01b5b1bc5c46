"""Statement sync: fetch → transform → validate → sync, per account and channel (issue 6).

Two channels per account: *intraday* (today's transactions so far) and *statements* (the
end-of-day statement of each day not yet held). Every statement is checked (opening + booked
entries = closing; its opening is the previous day's closing; no day missing; a bank reference
once); problems become sync exceptions per account and day, and a missing or failed day is
fetched again on the next run. Entries are keyed per dialect, so syncing twice, or importing
a file with the same entries, adds nothing. A booked entry replaces the pending (intraday) one
it books, so nothing counts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from croniter import croniter

from bankgate.connectors.base import Capability, Channel
from bankgate.domain import (
    CURRENCIES,
    CompanyAccount,
    Money,
    Statement,
    StatementEntry,
    check_statement,
    mask_numbers,
)
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.continuity import (
    DayBalances,
    EntryFacts,
    continuity_breaks,
    duplicate_references,
    is_booking_of,
    missing_days,
)
from bankgate.errors import CertificateExpired, ChannelError
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.alerts import certificate_expired_alert, raise_alert_now
from bankgate.services.finance_config import SyncConfig
from bankgate.store import NewJob, UnitOfWork

__all__ = ["SyncReport", "lapse_pending", "next_run", "replace_pending", "schedule_sync",
           "sync_account", "sync_accounts", "sync_job"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
INTRADAY, STATEMENTS = "intraday", "statements"
#: How far back gaps are fetched again (a year-old import must not start a year of calls).
MAX_GAP_DAYS = 92


@dataclass(slots=True)
class SyncReport:
    """What one sync of one account did and found."""

    account_id: str
    days_fetched: list[date] = field(default_factory=list)
    days_failed: list[date] = field(default_factory=list)
    new_entries: int = 0
    pending_replaced: int = 0
    pending_lapsed: int = 0
    issues: list[str] = field(default_factory=list)
    open_exceptions: int = 0


def sync_accounts(*, uow: UowFactory, channels: Mapping[str, Channel], now: Callable[[], datetime],
                  config: SyncConfig, account_ids: list[str] | None = None,
                  through: date | None = None, progress: Progress | None = None,
                  ) -> list[SyncReport]:
    """Sync every account (or the ones named) whose bank has a channel."""
    with uow() as unit:
        accounts = [a for a in unit.accounts.all() if not account_ids or a.id in account_ids]
    return [sync_account(uow=uow, channels=channels, account_id=a.id, now=now, config=config,
                         through=through, progress=progress)
            for a in accounts if a.bank in channels]


def sync_account(*, uow: UowFactory, channels: Mapping[str, Channel], account_id: str,
                 now: Callable[[], datetime], config: SyncConfig, through: date | None = None,
                 intraday: bool = True, statements: bool = True,
                 progress: Progress | None = None) -> SyncReport:
    """Fetch what is missing of one account, check it, store it once.

    `through` is the last day whose end-of-day statement is fetched (default: yesterday in
    the banks' time zone); `intraday` also fetches today's transactions so far.
    """
    with uow() as unit:
        account = unit.accounts.get(account_id)
        held = unit.sync.held_days(account_id)
    today = now().astimezone(config.zone).date()
    report = SyncReport(account_id)
    channel = channels.get(account.bank)
    if channel is None:
        report.issues.append(f"{account_id}: no channel configured for bank {account.bank}")
        return report
    if statements and Capability.STATEMENT in channel.capabilities:
        last = through or today - timedelta(days=1)
        for day in _days_to_fetch(held, last, config):
            if progress:
                progress(f"{account_id} {day}")
            _fetch_day(uow, channel, account, day, now, report)
        _judge_days(uow, account_id, last, config, now, report)
    if intraday and Capability.HISTORY in channel.capabilities:
        if progress:
            progress(f"{account_id} {today} intraday")
        _fetch_intraday(uow, channel, account, today, now, report)
    report.pending_replaced += in_transaction(uow, lambda u: replace_pending(u, account_id))
    report.pending_lapsed += in_transaction(uow, lambda u: lapse_pending(
        u, account_id, config.pending_lapse_days, now()))
    in_transaction(uow, lambda u: _audit(u, report, now()))
    return report


def _days_to_fetch(held: Mapping[date, Any], last: date, config: SyncConfig) -> list[date]:
    """Days not held since the first held (gaps) or in the look-back window, and held days
    in the window that were fetched before they ended or did not check out."""
    start = max(last - timedelta(days=config.lookback_days - 1),
                config.history_from or date.min)
    wanted = set(missing_days(held, _first_expected(held, last, config), last))
    for day, kept in held.items():
        day_end = datetime.combine(day + timedelta(days=1), time(), config.zone)
        if start <= day <= last and (not kept.clean or kept.fetched_at < day_end):
            wanted.add(day)
    return sorted(wanted)


def _first_expected(held: Mapping[date, Any], last: date, config: SyncConfig) -> date:
    """The first day a statement is expected: the look-back window or the first day held
    (gaps), at most MAX_GAP_DAYS back, never before `history_from` (docs, §1)."""
    start = last - timedelta(days=config.lookback_days - 1)
    first = max(min([*held, start]), last - timedelta(days=MAX_GAP_DAYS))
    return max(first, config.history_from) if config.history_from else first


def _fetch_day(uow: UowFactory, channel: Channel, account: CompanyAccount, day: date,
               now: Callable[[], datetime], report: SyncReport) -> None:
    try:
        statement = channel.statements(account, day)
    except ChannelError as exc:
        if isinstance(exc, CertificateExpired):  # I-10: an alert too, not only an exception
            _stopped_by_certificate(uow, exc, account, now)
        log.info("statement fetch failed", extra={"account": account.id, "day": str(day)})
        report.days_failed.append(day)
        why = mask_numbers(f"statement fetch failed: {exc}")  # INV-7: the URL names the account
        in_transaction(uow, lambda u: u.sync.open_exception(account.id, day, "fetch_failed",
                                                            why, at=now()))
        return
    report.new_entries += in_transaction(uow, lambda u: _store_day(u, account, statement,
                                                                   now(), report))
    report.days_fetched.append(day)


def _stopped_by_certificate(uow: UowFactory, exc: CertificateExpired, account: CompanyAccount,
                            now: Callable[[], datetime]) -> None:
    raise_alert_now(uow=uow, now=now, actor="system:sync", new=certificate_expired_alert(
        exc, f"statement syncs of {account.bank} stopped"))


def _store_day(unit: UnitOfWork, account: CompanyAccount, statement: Statement, at: datetime,
               report: SyncReport) -> int:
    day = statement.on or at.date()
    found = check_statement(statement)
    duplicates = duplicate_references(statement.entries)
    report.issues += [f"{account.id} {day}: {i.message}" for i in (*found, *duplicates)]
    digest = None
    if statement.raw:
        digest = unit.statements.archive_raw(statement.raw, name=f"{account.id}-{day}.json",
                                             origin=statement.source.origin, at=at)
    unit.sync.save_statement(statement, account_id=account.id, raw_sha256=digest,
                             issues=found, at=at)
    new = _add_entries(unit, account.id, statement.entries, statement.id[:40], at)
    unit.sync.resolve_exceptions(account.id, day, at=at, keep=("continuity", "pending_lapsed"))
    for issue in found:
        unit.sync.open_exception(account.id, day, "balance", issue.message, at=at)
    return new


def _add_entries(unit: UnitOfWork, account_id: str, entries: tuple[StatementEntry, ...],
                 statement_id: str | None, at: datetime) -> int:
    promoted = unit.sync.promote_pending(account_id, entries)
    return promoted + unit.statements.add_entries(account_id, entries,
                                                  statement_id=statement_id, at=at)


def _judge_days(uow: UowFactory, account_id: str, last: date, config: SyncConfig,
                now: Callable[[], datetime], report: SyncReport) -> None:
    """Continuity and gaps over every day held: open what is wrong, close what is right."""
    def judge(unit: UnitOfWork) -> int:
        at = now()
        held = unit.sync.held_days(account_id)
        if not held:
            return len(unit.sync.exceptions(account_id))
        breaks = continuity_breaks([DayBalances(d.on, d.opening_minor, d.closing_minor)
                                    for d in held.values()])
        for day in held:
            if day in breaks:
                unit.sync.open_exception(account_id, day, "continuity", breaks[day], at=at)
            else:
                unit.sync.resolve_exceptions(account_id, day, at=at, keep=(
                    "balance", "fetch_failed", "pending_lapsed"))
        for day in missing_days(held, _first_expected(held, last, config), last):
            unit.sync.open_exception(account_id, day, "missing",
                                     f"no statement held for {day}; fetched again next run",
                                     at=at)
        report.issues += [f"{account_id}: {m}" for m in breaks.values()]
        return len(unit.sync.exceptions(account_id))

    report.open_exceptions = in_transaction(uow, judge)


def _fetch_intraday(uow: UowFactory, channel: Channel, account: CompanyAccount, today: date,
                    now: Callable[[], datetime], report: SyncReport) -> None:
    try:
        entries = tuple(channel.transactions(account, today, today))
    except ChannelError as exc:
        if isinstance(exc, CertificateExpired):
            _stopped_by_certificate(uow, exc, account, now)
        report.issues.append(mask_numbers(f"{account.id} {today}: intraday fetch failed: {exc}"))
        return
    report.new_entries += in_transaction(uow, lambda u: _add_entries(
        u, account.id, entries, None, now()))


def replace_pending(unit: UnitOfWork, account_id: str) -> int:
    """Mark pending entries whose booking we now hold as replaced; returns how many."""
    used: set[int] = set()
    replaced: list[int] = []
    for pending in unit.sync.pending_entries(account_id):
        facts = _facts(pending)
        for booked in unit.sync.booked_with_amount(account_id, pending["amount_minor"]):
            if booked["id"] not in used and is_booking_of(_facts(booked), facts):
                used.add(booked["id"])
                replaced.append(pending["id"])
                break
    return unit.sync.mark_replaced(replaced)


def lapse_pending(unit: UnitOfWork, account_id: str, after_days: int, at: datetime) -> int:
    """Pending entries never booked: once the bank's statements reach `after_days` past an
    entry's day without its booking, it is marked lapsed and a `pending_lapsed` exception on
    its day asks a person to look (the bank may have dropped or reversed it). Bank days, not
    the wall clock, decide: a sync that was down for a week lapses nothing."""
    held = unit.sync.held_days(account_id)
    if not held:
        return 0
    latest = max(held)
    lapsed: dict[int, Mapping[str, Any]] = {}
    for pending in unit.sync.pending_entries(account_id):
        day = pending["value_date"] or pending["booking_date"] or pending["created_at"].date()
        if latest >= day + timedelta(days=after_days):
            lapsed[pending["id"]] = pending
    for pending in lapsed.values():
        day = pending["value_date"] or pending["booking_date"] or pending["created_at"].date()
        amount = Money.from_minor(pending["amount_minor"], CURRENCIES[pending["currency"]])
        unit.sync.open_exception(
            account_id, day, "pending_lapsed",
            f"pending entry {pending['bank_reference'] or pending['key_value']} of "
            f"{amount} never booked; statements held through {latest}",
            at=at)
    return unit.sync.mark_lapsed(list(lapsed))


def _facts(row: Mapping[str, Any]) -> EntryFacts:
    return EntryFacts(amount_minor=row["amount_minor"], end_to_end_id=row["end_to_end_id"],
                      bank_reference=row["bank_reference"],
                      counterparty_account=row["counterparty_account"],
                      day=row["value_date"] or row["booking_date"])


def _audit(unit: UnitOfWork, report: SyncReport, at: datetime) -> None:
    unit.audit.append(AuditRecord(
        at=at, actor="system:sync", action="statement.synced", subject_kind="account",
        subject_id=report.account_id,
        detail={"days": [str(d) for d in report.days_fetched],
                "failed": [str(d) for d in report.days_failed], "new": report.new_entries,
                "pending_replaced": report.pending_replaced,
                "pending_lapsed": report.pending_lapsed,
                "open_exceptions": report.open_exceptions}))


# -- the schedule ------------------------------------------------------------------------------

def next_run(cron: str, after: datetime, zone: Any) -> datetime:
    """The next time `cron` (read in the banks' time zone) fires after `after` (aware UTC)."""
    local = after.astimezone(zone)
    fired: datetime = croniter(cron, local).get_next(datetime)
    return fired.astimezone(after.tzinfo)


def sync_job(account_id: str, channel: str, config: SyncConfig, *, now: datetime) -> NewJob:
    """The next scheduled sync of one account and channel; its payload carries the schedule."""
    cron = config.intraday if channel == INTRADAY else config.statements
    delay = (next_run(cron, now, config.zone) - now).total_seconds()
    payload = {"account_id": account_id, "channel": channel, "intraday": config.intraday,
               "statements": config.statements, "lookback_days": config.lookback_days,
               "timezone": config.timezone,
               "history_from": str(config.history_from) if config.history_from else None}
    return NewJob("sync", payload, dedupe_key=f"sync:{account_id}:{channel}",
                  delay_s=max(0.0, delay), max_attempts=50)


def schedule_sync(*, uow: UowFactory, channels: Mapping[str, Channel], config: SyncConfig,
                  now: Callable[[], datetime]) -> int:
    """Queue the next sync of every account and channel (no-op for those already queued)."""
    def enqueue(unit: UnitOfWork) -> int:
        at = now()
        jobs = [sync_job(a.id, kind, config, now=at) for a in unit.accounts.all()
                if a.bank in channels for kind in (INTRADAY, STATEMENTS)]
        unit.jobs.enqueue_many(jobs, now=at)
        return len(jobs)

    return in_transaction(uow, enqueue)


def _date_or_none(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def run_sync_job(*, uow: UowFactory, channels: Mapping[str, Channel],
                 now: Callable[[], datetime], payload: Mapping[str, Any]) -> str:
    """The worker's handler: sync one account's channel, then queue its next run."""
    config = SyncConfig(intraday=payload["intraday"], statements=payload["statements"],
                        lookback_days=int(payload["lookback_days"]),
                        timezone=payload["timezone"],
                        history_from=_date_or_none(payload.get("history_from")))
    channel = payload["channel"]
    report = sync_account(uow=uow, channels=channels, account_id=payload["account_id"],
                          now=now, config=config, intraday=channel == INTRADAY,
                          statements=channel == STATEMENTS)
    at = now()
    in_transaction(uow, lambda u: u.jobs.enqueue(
        sync_job(payload["account_id"], channel, config, now=at), now=at))
    return (f"{len(report.days_fetched)} days, {report.new_entries} new entries, "
            f"{report.open_exceptions} open exceptions")
