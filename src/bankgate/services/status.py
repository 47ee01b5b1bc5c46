"""Apply the bank's word to orders: from submit answers, status polls and callbacks.

The state machine decides: a report moves an order forward along legal transitions only
(`bank_path`); a repeated report changes nothing (no transition, no audit record); a report
that is behind (a late `accepted` after `settled`) is ignored and logged (B-09, B-10). An
unrecognised bank code moves a just-submitted order to `unknown`, never to a failure (B-13).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bankgate.connectors.base import Channel
from bankgate.domain import (
    OUTCOME_STATUS,
    Batch,
    BatchState,
    InstructionId,
    Outcome,
    PaymentOrder,
    Status,
    StatusReport,
    bank_path,
    is_terminal,
    mask_numbers,
)
from bankgate.domain.alerts import AlertLevel
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import CallbackMismatch, ChannelError
from bankgate.services._tx import Changes, RetryLater, UowFactory, in_transaction
from bankgate.services.alerts import new_alert, raise_alert
from bankgate.services.batching import dispatch_job
from bankgate.services.crashpoints import crash_point
from bankgate.store import NewJob, UnitOfWork

__all__ = [
    "Applied",
    "FollowUp",
    "apply_callback",
    "apply_reports",
    "callback_mismatch",
    "close_if_done",
    "poll_batch",
    "poll_job",
]

log = logging.getLogger(__name__)

#: Orders still waiting for the bank's final word.
OPEN_AT_BANK = frozenset({Status.SUBMITTED, Status.UNKNOWN, Status.ACCEPTED,
                          Status.AWAITING_BANK_CONFIRMATION})
#: The line answer a bank gives for an instruction id it already holds (ISO DU05).
DUPLICATE_REASON = "DU05"


@dataclass(frozen=True, slots=True)
class FollowUp:
    """How we follow a bank's answers (per deployment; per bank later)."""

    poll_first_s: float = 0.3
    poll_max_s: float = 30.0
    not_found_grace_s: float = 3.0  # how long after a send a bank may still say not_found
    max_resends: int = 3
    #: after how long an order held for the bank-side second confirmation is reminded (B-19)
    confirmation_remind_s: float = 86400.0
    #: after how many failed status queries in a row of one batch an alert goes out (B-14)
    poll_alert_after: int = 5

    def poll_delay(self, round_: int) -> float:
        """Back-off between polls: first, doubled each round, capped."""
        return float(min(self.poll_max_s, self.poll_first_s * (2 ** min(round_, 16))))


@dataclass
class Applied:
    """What a set of reports did."""

    moved: int = 0
    ignored: int = 0
    not_found: list[str] = field(default_factory=list)


def poll_job(batch_id: str, *, round_: int, delay_s: float, failed: int = 0) -> NewJob:
    """The job that asks the bank about a batch's open orders (`failed`: how many queries in
    a row have failed before it)."""
    payload: dict[str, object] = {"batch_id": batch_id, "round": round_}
    if failed:
        payload["failed"] = failed
    return NewJob("poll_status", payload, dedupe_key=f"poll:{batch_id}", delay_s=delay_s,
                  max_attempts=200)


def apply_reports(changes: Changes, orders: Mapping[str, PaymentOrder],
                  reports: Sequence[StatusReport], *, via: str) -> Applied:
    """Move each order the reports name as far as its report allows."""
    applied = Applied()
    for report in reports:
        known = orders.get(report.instruction_id)
        if known is None:
            log.warning("bank report for an instruction id we did not ask about",
                        extra={"instruction_id": report.instruction_id, "via": via})
            applied.ignored += 1
            continue
        order = changes.latest(known)
        if report.outcome is Outcome.NOT_FOUND:
            applied.not_found.append(report.instruction_id)
            continue
        target = _target(order, report)
        if target is Status.UNKNOWN:
            path: tuple[Status, ...] | None = (Status.UNKNOWN,)
        else:
            path = () if target is None else bank_path(order.status, target)
        if path is None:
            log.info("bank report behind the order's status, ignored",
                     extra={"order": order.id, "status": order.status.value,
                            "reported": report.outcome.value, "via": via})
            applied.ignored += 1
            continue
        for step in path:
            order = changes.move(order, step, bank_code=report.bank_code, via=via,
                                 **_reason(step, report))
            applied.moved += 1
    return applied


def _target(order: PaymentOrder, report: StatusReport) -> Status | None:
    status = OUTCOME_STATUS.get(report.outcome)
    if status is not None and report.reason_code != DUPLICATE_REASON:
        return status
    ambiguous = report.outcome is Outcome.UNRECOGNIZED or report.reason_code == DUPLICATE_REASON
    if ambiguous and order.status is Status.SUBMITTED:
        return Status.UNKNOWN  # ask, never guess (B-05, B-13)
    return None


def _reason(step: Status, report: StatusReport) -> dict[str, str | None]:
    if step in (Status.REJECTED, Status.RETURNED):
        return {"reason_code": report.reason_code, "reason": report.reason}
    if step is Status.UNKNOWN:
        return {"reason": f"bank answered {report.bank_code!r}; asking for the status"}
    return {}


def close_if_done(unit: UnitOfWork, batch: Batch, orders: Sequence[PaymentOrder],
                  at: datetime) -> bool:
    """Close the batch when every order has the bank's final word."""
    if batch.state is BatchState.CLOSED or not all(is_terminal(o.status) for o in orders):
        return False
    closed = replace(batch, state=BatchState.CLOSED, version=batch.version + 1)
    unit.batches.save(closed, expected_version=batch.version, at=at)
    unit.audit.append(AuditRecord(at=at, actor="system:status", action="batch.closed",
                                  subject_kind="batch", subject_id=batch.id,
                                  from_status=batch.state.value, to_status="closed"))
    return True


def poll_batch(*, uow: UowFactory, channels: Mapping[str, Channel], batch_id: str,
               round_: int, now: Callable[[], datetime], follow: FollowUp,
               failed: int = 0) -> Applied:
    """Ask the bank about the batch's open orders and apply its answers (`failed`: queries
    of this batch that failed in a row before this one)."""
    with uow() as unit:
        batch = unit.batches.get(batch_id)
        open_ids = unit.orders.instruction_ids_in(batch_id, [s.value for s in OPEN_AT_BANK])
    if batch.state in (BatchState.READY, BatchState.SENDING, BatchState.NEEDS_ATTENTION):
        return Applied()  # the dispatch job owns it, or a person does
    if not open_ids:
        in_transaction(uow, lambda u: close_if_done(
            u, u.batches.get(batch_id, lock=True), u.orders.by_batch(batch_id), now()))
        return Applied()
    channel = channels.get(batch.key.bank)
    if channel is None:
        raise RetryLater(60.0, f"no channel is configured for bank {batch.key.bank!r}",
                         counted=False)
    try:
        reports = channel.status([InstructionId(i) for i in open_ids])
    except ChannelError as exc:
        # INV-2: the order is at the bank, so it is followed until the bank's final word,
        # however long the bank is down: the next round is queued with the back-off grown
        # (a retry of this job would poll at the same rate and die of its attempts).
        log.info("status query failed; next round queued",
                 extra={"batch": batch_id, "round": round_, "error": type(exc).__name__})
        in_row, why = failed + 1, mask_numbers(f"{type(exc).__name__}: {exc}")[:300]

        def next_round(unit: UnitOfWork) -> None:
            unit.jobs.enqueue(poll_job(batch_id, round_=round_ + 1, failed=in_row,
                                       delay_s=follow.poll_delay(round_ + 1)), now=now())
            if in_row >= follow.poll_alert_after:  # B-14: still followed, and said so
                raise_alert(unit, new_alert(
                    "payment.status_unreachable", f"bank {batch.key.bank} status queries",
                    AlertLevel.CRITICAL,
                    f"{in_row} status queries in a row about batch {batch_id} failed "
                    f"({why}); its {len(open_ids)} open orders keep "
                    "their status and are asked about again every "
                    f"{follow.poll_max_s:g} s at most until the bank answers"),
                    at=now(), actor=f"bank:{batch.key.bank}")
        in_transaction(uow, next_round)
        return Applied()
    crash_point("status.after_query")
    return in_transaction(uow, lambda u: _apply_poll(u, batch_id, reports, round_, now(),
                                                     follow))


def _apply_poll(unit: UnitOfWork, batch_id: str, reports: Sequence[StatusReport], round_: int,
                at: datetime, follow: FollowUp) -> Applied:
    batch = unit.batches.get(batch_id, lock=True)
    orders = unit.orders.by_batch(batch_id, lock=True)
    by_id = {o.instruction_id: o for o in orders}
    changes = Changes(at=at, actor=f"bank:{batch.key.bank}")
    applied = apply_reports(changes, by_id, reports, via="status")
    unit.messages.add(bank=batch.key.bank, kind="status", batch_id=batch_id,
                      raw=b"\n".join(r.raw for r in reports), at=at)
    if applied.not_found and len(applied.not_found) == len(orders):
        _bank_has_nothing(unit, changes, batch, orders, at, follow)
    changes.flush(unit)
    latest = [changes.latest(o) for o in orders]
    _remind_confirmations(batch, latest, at, follow)
    if not close_if_done(unit, batch, latest, at) and _still_followed(unit, batch_id):
        unit.jobs.enqueue(poll_job(batch_id, round_=round_ + 1,
                                   delay_s=follow.poll_delay(round_ + 1)), now=at)
    return applied


def _remind_confirmations(batch: Batch, orders: Sequence[PaymentOrder], at: datetime,
                          follow: FollowUp) -> None:
    """Orders held for 网银二次确认 stay so, however long (B-19); past the age, a reminder."""
    overdue = [o for o in orders if o.status is Status.AWAITING_BANK_CONFIRMATION
               and (at - o.status_changed_at).total_seconds() >= follow.confirmation_remind_s]
    if overdue:
        log.warning("payments awaiting the second confirmation in the bank's portal",
                    extra={"batch": batch.id, "bank": batch.key.bank, "orders": len(overdue),
                           "oldest_since": min(o.status_changed_at for o in overdue).isoformat()})


def _still_followed(unit: UnitOfWork, batch_id: str) -> bool:
    state = unit.batches.get(batch_id).state
    return state in (BatchState.SENT, BatchState.UNKNOWN)


def _bank_has_nothing(unit: UnitOfWork, changes: Changes, batch: Batch,
                      orders: Sequence[PaymentOrder], at: datetime, follow: FollowUp) -> None:
    """The bank knows none of the batch: after the grace period, resend the same ids once more.

    Safe because the bank is idempotent on the batch id and every instruction id; it is an
    answered question, not a blind resend (K-06). After `max_resends` a person decides (B-07).
    """
    sent_at = unit.batches.last_sent_at(batch.id)
    if sent_at is not None and at - sent_at < timedelta(seconds=follow.not_found_grace_s):
        return
    if batch.send_attempts > follow.max_resends:  # the first send and max_resends more
        state, note = BatchState.NEEDS_ATTENTION, "bank has no record after every resend"
    else:
        state, note = BatchState.READY, "bank has no record; resending the same ids"
        for order in orders:
            if changes.latest(order).status is Status.UNKNOWN:
                changes.move(order, Status.SUBMITTED, reason=note)
        unit.jobs.enqueue(dispatch_job(batch.id), now=at)
    moved = replace(batch, state=state, version=batch.version + 1)
    unit.batches.save(moved, expected_version=batch.version, at=at, note=note)
    unit.audit.append(AuditRecord(at=at, actor="system:status", action="batch.not_found",
                                  subject_kind="batch", subject_id=batch.id,
                                  from_status=batch.state.value, to_status=state.value,
                                  detail={"note": note, "send_attempts": batch.send_attempts}))


def apply_callback(*, uow: UowFactory, bank: str, report: StatusReport,
                   now: Callable[[], datetime]) -> Applied:
    """Apply one bank callback; duplicates and stale ones change nothing (B-09, B-10, B-11).

    Raises:
        CallbackMismatch: the callback says another amount or payee account was paid than
            the order's (B-12); it is refused, audited and alerted, the order unchanged.
    """
    def work(unit: UnitOfWork) -> Applied | str:
        orders = unit.orders.by_instruction_ids([report.instruction_id])
        order = orders.get(report.instruction_id)
        if order is None or unit.accounts.get(order.debtor).bank != bank:
            unit.audit.append(AuditRecord(
                at=now(), actor=f"bank:{bank}", action="callback.refused",
                subject_kind="request", subject_id=report.instruction_id[:40],
                detail={"reason": "no such order at this bank", "bank_code": report.bank_code}))
            return Applied(ignored=1)
        mismatch = callback_mismatch(order, report)
        if mismatch:
            _refuse_mismatch(unit, bank, order, report, mismatch, now())
            return mismatch
        changes = Changes(at=now(), actor=f"bank:{bank}")
        applied = apply_reports(changes, orders, [report], via="callback")
        changes.flush(unit)
        crash_point("callbacks.before_commit")  # K-10: applied, not committed, no answer
        return applied

    outcome = in_transaction(uow, work)
    if isinstance(outcome, str):
        raise CallbackMismatch(f"{bank}: {outcome}; the order is unchanged")
    return outcome


def callback_mismatch(order: PaymentOrder, report: StatusReport) -> str | None:
    """Why the bank's word cannot be about this order as we sent it, or None (B-12)."""
    if report.amount is not None and report.amount != order.amount:
        return (f"the callback says {report.amount.amount:f} {report.amount.currency.code} "
                f"for order {order.id}, which is for {order.amount.amount:f} "
                f"{order.amount.currency.code}")
    paid_to = report.creditor_account
    if paid_to is not None and paid_to.digits != order.payee.account.digits:
        return (f"the callback says order {order.id} paid account {paid_to}, not the order's "
                f"payee account {order.payee.account}")  # both masked (INV-7)
    return None


def _refuse_mismatch(unit: UnitOfWork, bank: str, order: PaymentOrder, report: StatusReport,
                     why: str, at: datetime) -> None:
    unit.audit.append(AuditRecord(
        at=at, actor=f"bank:{bank}", action="callback.refused", subject_kind="order",
        subject_id=order.id, from_status=order.status.value,
        detail={"reason": why, "bank_code": report.bank_code}))
    raise_alert(unit, new_alert("callback.mismatch", f"order {order.id}", AlertLevel.CRITICAL,
                                f"{bank}: {why}; the order is unchanged, look at it with the "
                                "bank before anything else"), at=at, actor=f"bank:{bank}")
    log.error("callback contradicts its order", extra={"bank": bank, "order": order.id})
