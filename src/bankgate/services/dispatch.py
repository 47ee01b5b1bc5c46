"""Send each batch to its bank exactly once, through the outbox (DESIGN: payment lifecycle).

    READY ──mark (orders → submitted)──▶ SENDING ──answer──▶ SENT ──polls──▶ CLOSED
                                             │ outcome unknown / interrupted
                                             ▼
                                          UNKNOWN ──status query──▶ SENT/CLOSED, or READY
                                                    (bank has no record: same ids again)

A dispatch that finds its batch already SENDING was interrupted after marking it (a crash,
a lost lease): the request may have reached the bank, so the orders go to `unknown` and a
status query decides — never a blind resend (K-06, K-07, K-08).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from bankgate.connectors.base import Capability, Channel, SubmitLine
from bankgate.domain import (
    Batch,
    BatchState,
    CompanyAccount,
    PaymentOrder,
    Status,
    SubmissionAck,
)
from bankgate.domain.alerts import AlertLevel
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import (
    BankRejected,
    BankUnavailable,
    CertificateExpired,
    ChannelError,
    OutcomeUnknown,
)
from bankgate.services._tx import Changes, RetryLater, UowFactory, in_transaction
from bankgate.services.alerts import certificate_expired_alert, new_alert, raise_alert
from bankgate.services.controls_check import order_problems
from bankgate.services.crashpoints import crash_point
from bankgate.services.status import FollowUp, apply_reports, close_if_done, poll_job
from bankgate.store import UnitOfWork

__all__ = ["channel_for", "dispatch_batch", "failing_controls"]

log = logging.getLogger(__name__)
_Prepared = tuple[Batch, CompanyAccount, list[PaymentOrder], frozenset[str]]


def dispatch_batch(*, uow: UowFactory, channels: Mapping[str, Channel], batch_id: str,
                   now: Callable[[], datetime], follow: FollowUp) -> str:
    """Send the batch if it is ready; returns what happened, in a few words."""
    channel = channel_for(uow, channels, batch_id)
    caps = channel.capabilities
    prepared = in_transaction(uow, lambda u: _prepare(u, batch_id, now(), follow, caps))
    if prepared is None:
        return "nothing to send"
    batch, debtor, orders, held = prepared
    crash_point("dispatch.after_mark_sending")
    try:
        ack = channel.submit(batch, debtor, [SubmitLine(o, o.payee, bank_confirmation=o.id in held)
                                             for o in orders])
    except CertificateExpired as exc:  # I-10: refused before send; an alert, not a log line
        expired = exc
        in_transaction(uow, lambda u: _stopped_by_certificate(u, batch, expired, now()))
        raise RetryLater(3600.0, str(exc), counted=False) from exc
    except BankUnavailable as exc:
        why = str(exc)
        in_transaction(uow, lambda u: _back_to_ready(u, batch_id, why, now()))
        raise RetryLater(min(30.0, 0.5 * 2 ** batch.send_attempts), why) from exc
    except BankRejected as exc:
        refusal = exc
        in_transaction(uow, lambda u: _reject_all(u, batch_id, refusal, now()))
        return f"rejected by the bank: {refusal}"
    except (OutcomeUnknown, ChannelError) as exc:
        why = str(exc)
        in_transaction(uow, lambda u: _mark_unknown(u, batch_id, why, now(), follow))
        return f"outcome unknown: {why}"
    crash_point("dispatch.after_response")
    in_transaction(uow, lambda u: _record_ack(u, batch_id, ack, now(), follow))
    return f"sent: {len(ack.reports)} answers"


def channel_for(uow: UowFactory, channels: Mapping[str, Channel], batch_id: str) -> Channel:
    """The batch's bank channel, found before anything is marked as sent.

    Raises:
        RetryLater: no channel is configured for that bank (nothing was sent; a person must
            configure the bank; the job waits and says why).
    """
    with uow() as unit:
        bank = unit.batches.get(batch_id).key.bank
    channel = channels.get(bank)
    if channel is None:
        raise RetryLater(60.0, f"no channel is configured for bank {bank!r}; nothing was sent",
                         counted=False)
    return channel


def _prepare(unit: UnitOfWork, batch_id: str, at: datetime, follow: FollowUp,
             capabilities: frozenset[Capability]) -> _Prepared | None:
    batch = unit.batches.get(batch_id, lock=True)
    if batch.state is BatchState.SENDING:
        _mark_unknown(unit, batch_id, "an earlier send was interrupted", at, follow)
        return None
    if batch.state is not BatchState.READY:
        return None
    orders = unit.orders.by_batch(batch_id, lock=True)
    held = bank_confirmations(unit, orders)
    if held and Capability.BANK_CONFIRMATION not in capabilities:
        raise RetryLater(3600.0, f"the policy requires a bank-side confirmation for "
                                 f"{len(held)} order(s) but bank {batch.key.bank!r}'s channel "
                                 "cannot ask for one; nothing was sent", counted=False)
    refused = failing_controls(unit, [o for o in orders if o.status is Status.RELEASED])
    changes = Changes(at=at, actor="system:dispatch")
    for order in orders:
        if order.id in refused:
            changes.move(order, Status.CANCELLED, reason_code="CONTROLS",
                         reason="not sent: its controls do not hold (A-14); "
                         + "; ".join(refused[order.id])[:180])
        elif order.status is Status.RELEASED:
            changes.move(order, Status.SUBMITTED, batch=batch_id)
    changes.flush(unit)
    if refused:
        _report_refused(unit, batch, refused, at)
    if not any(changes.latest(o).status is Status.SUBMITTED for o in orders):
        close_if_done(unit, batch, [changes.latest(o) for o in orders], at)
        return None
    sending = replace(batch, state=BatchState.SENDING, version=batch.version + 1,
                      send_attempts=batch.send_attempts + 1)
    unit.batches.save(sending, expected_version=batch.version, at=at, last_sent_at=at)
    _audit_batch(unit, batch, sending, at, attempt=sending.send_attempts)
    latest = [changes.latest(o) for o in orders]
    to_send = [o for o in latest if o.status is Status.SUBMITTED]
    return sending, unit.accounts.get(batch.key.debtor), to_send, held


def failing_controls(unit: UnitOfWork, orders: list[PaymentOrder]) -> dict[str, list[str]]:
    """The orders about to leave whose controls no longer hold, with what is wrong: terms
    or requirement changed behind the gateway's back (the keyed tag), approvals missing or
    not bound to the order as it is now (A-14, INV-4 at the last gate)."""
    ids = [o.id for o in orders]
    controls = unit.control.controls(ids)
    approvals = unit.control.live_approvals(ids)
    found = {o.id: order_problems(unit, o, controls.get(o.id), approvals.get(o.id, []))
             for o in orders}
    return {order_id: problems for order_id, problems in found.items() if problems}


def _report_refused(unit: UnitOfWork, batch: Batch, refused: Mapping[str, list[str]],
                    at: datetime) -> None:
    for order_id, problems in refused.items():
        unit.audit.append(AuditRecord(
            at=at, actor="system:dispatch", action="order.controls_failed",
            subject_kind="order", subject_id=order_id, detail={"problems": problems}))
    raise_alert(unit, new_alert(
        "payment.controls_failed", f"batch {batch.id}", AlertLevel.CRITICAL,
        f"{len(refused)} order(s) of batch {batch.id} to {batch.key.bank} were not sent: "
        "their terms, requirement or approvals changed outside the gateway (A-14); "
        f"first: {next(iter(refused.values()))[0]}"[:500], occurrence=at.isoformat()),
        at=at, actor="system:dispatch")


def bank_confirmations(unit: UnitOfWork, orders: list[PaymentOrder]) -> frozenset[str]:
    """Ids of the orders whose decision asks the bank to hold them for 网银二次确认 (B-19)."""
    stored = unit.control.requirements([o.id for o in orders])
    return frozenset(i for i, req in stored.items() if req.get("bank_confirmation") is True)


def _record_ack(unit: UnitOfWork, batch_id: str, ack: SubmissionAck, at: datetime,
                follow: FollowUp) -> None:
    batch = unit.batches.get(batch_id, lock=True)
    orders = unit.orders.by_batch(batch_id, lock=True)
    changes = Changes(at=at, actor=f"bank:{batch.key.bank}")
    apply_reports(changes, {o.instruction_id: o for o in orders}, ack.reports, via="submit")
    answered = {r.instruction_id for r in ack.reports}
    for order in orders:
        left_out = order.instruction_id not in answered
        if left_out and changes.latest(order).status is Status.SUBMITTED:
            changes.move(order, Status.UNKNOWN, reason="the bank's answer left this order out")
    changes.flush(unit)
    unit.messages.add(bank=batch.key.bank, kind="submit", batch_id=batch_id, raw=ack.raw, at=at)
    if batch.state is BatchState.SENDING:
        sent = replace(batch, state=BatchState.SENT, version=batch.version + 1)
        unit.batches.save(sent, expected_version=batch.version, at=at,
                          bank_reference=ack.bank_reference)
        _audit_batch(unit, batch, sent, at, bank_reference=ack.bank_reference)
        batch = sent
    latest = [changes.latest(o) for o in orders]
    if not close_if_done(unit, batch, latest, at):
        unit.jobs.enqueue(poll_job(batch_id, round_=0, delay_s=follow.poll_first_s), now=at)


def _mark_unknown(unit: UnitOfWork, batch_id: str, why: str, at: datetime,
                  follow: FollowUp) -> None:
    batch = unit.batches.get(batch_id, lock=True)
    if batch.state is not BatchState.SENDING:
        return
    changes = Changes(at=at, actor="system:dispatch")
    for order in unit.orders.by_batch(batch_id, lock=True):
        if order.status is Status.SUBMITTED:
            changes.move(order, Status.UNKNOWN, reason=f"no answer from the bank: {why}"[:255])
    changes.flush(unit)
    unknown = replace(batch, state=BatchState.UNKNOWN, version=batch.version + 1)
    unit.batches.save(unknown, expected_version=batch.version, at=at, note=why)
    _audit_batch(unit, batch, unknown, at, reason=why)
    unit.jobs.enqueue(poll_job(batch_id, round_=0, delay_s=follow.poll_first_s), now=at)


def _back_to_ready(unit: UnitOfWork, batch_id: str, why: str, at: datetime) -> None:
    """Nothing reached the bank: the batch waits for the retry; its orders stay submitted."""
    batch = unit.batches.get(batch_id, lock=True)
    if batch.state is BatchState.SENDING:
        ready = replace(batch, state=BatchState.READY, version=batch.version + 1)
        unit.batches.save(ready, expected_version=batch.version, at=at, note=why)
        _audit_batch(unit, batch, ready, at, reason=why)


def _stopped_by_certificate(unit: UnitOfWork, batch: Batch, exc: CertificateExpired,
                            at: datetime) -> None:
    _back_to_ready(unit, batch.id, str(exc), at)
    raise_alert(unit, certificate_expired_alert(
        exc, f"payments to {batch.key.bank} stopped (batch {batch.id} waits, nothing sent)"),
        at=at, actor="system:dispatch")


def _reject_all(unit: UnitOfWork, batch_id: str, exc: BankRejected, at: datetime) -> None:
    batch = unit.batches.get(batch_id, lock=True)
    orders = unit.orders.by_batch(batch_id, lock=True)
    changes = Changes(at=at, actor=f"bank:{batch.key.bank}")
    for order in orders:
        if order.status is Status.SUBMITTED:
            changes.move(order, Status.REJECTED, reason_code=exc.bank_code or None,
                         reason=exc.message[:255], bank_code=exc.bank_code)
    changes.flush(unit)
    unit.messages.add(bank=batch.key.bank, kind="submit", batch_id=batch_id, raw=exc.raw, at=at)
    closed = replace(batch, state=BatchState.CLOSED, version=batch.version + 1)
    unit.batches.save(closed, expected_version=batch.version, at=at, note=exc.message)
    _audit_batch(unit, batch, closed, at, reason=exc.message)


def _audit_batch(unit: UnitOfWork, before: Batch, after: Batch, at: datetime,
                 **detail: object) -> None:
    unit.audit.append(AuditRecord(
        at=at, actor="system:dispatch", action="batch.transition", subject_kind="batch",
        subject_id=after.id, from_status=before.state.value, to_status=after.state.value,
        detail={k: v for k, v in detail.items() if v is not None}))
