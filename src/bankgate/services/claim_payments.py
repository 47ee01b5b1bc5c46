"""Approved claims become payments at the cut-off times; each claim follows its payment.

At each cut-off (10:00 and 15:00 Shanghai time by default) every claim approved before it is
paid to the employee's verified account, one order per claim, the orders of one paying
account in one batch. An employee whose account fails verification gets no payment: the
claim is `blocked` with the reason, and they are told to update the account. The claim then
follows its order: settled → paid; rejected → failed with the bank's reason; returned →
returned. The employee hears of each by mail, the ERP by a signed webhook; messages wait in
the notifications outbox until delivered (`deliver_notifications`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bankgate.connectors.base import Channel
from bankgate.domain import CompanyAccount, FlowType, Payee, PaymentOrder, Status
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.claims import Claim, ClaimState, Employee, move_claim
from bankgate.notify import DeliveryFailed, Mailer, WebhookSender
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.crashpoints import crash_point
from bankgate.services.flows_orders import pay_as_own_batches, paying_account
from bankgate.services.intake import OrderDraft
from bankgate.services.verification import PayeeToCheck, verify_payees
from bankgate.store import UnitOfWork

__all__ = ["BUSINESS_TZ", "DEFAULT_CUTOFFS", "ClaimPaymentRun", "deliver_notifications",
           "follow_claims", "last_cutoff", "next_cutoff", "pay_approved_claims", "reopen_claim"]

BUSINESS_TZ: Final = ZoneInfo("Asia/Shanghai")
DEFAULT_CUTOFFS: Final = (time(10, 0), time(15, 0))
MAX_DELIVERY_ATTEMPTS: Final = 8
_OUTCOME: Final = {Status.SETTLED: ClaimState.PAID, Status.REJECTED: ClaimState.FAILED,
                   Status.CANCELLED: ClaimState.FAILED, Status.RETURNED: ClaimState.RETURNED}
_TEXT: Final = {
    ClaimState.PAID: ("报销已到账 Your claim has been paid",
                      "{amount} for claim {claim} ({title}) has been paid to {account}."),
    ClaimState.FAILED: ("报销付款失败 Your claim could not be paid",
                        "The bank refused the payment of {amount} for claim {claim} "
                        "({title}): {reason}."),
    ClaimState.RETURNED: ("报销款被退回 Your claim payment was returned",
                          "The payment of {amount} for claim {claim} ({title}) to {account} "
                          "was returned by your bank: {reason}. Please check your account."),
    ClaimState.BLOCKED: ("请更新收款账户 Please update your bank account",
                         "Claim {claim} ({title}) is approved, but your account {account} "
                         "failed verification: {reason}."),
}


@dataclass
class ClaimPaymentRun:
    """What one cut-off run did."""

    cutoff: datetime
    paying: list[Claim] = field(default_factory=list)
    blocked: list[Claim] = field(default_factory=list)
    waiting: int = 0  # approved after the cut-off: the next run pays them


def last_cutoff(at: datetime, cutoffs: Sequence[time] = DEFAULT_CUTOFFS) -> datetime:
    """The latest cut-off (Shanghai wall time) at or before `at`, as aware UTC."""
    local = at.astimezone(BUSINESS_TZ)
    for days in range(0, 8):
        day = local.date() - timedelta(days=days)
        passed = [datetime.combine(day, c, BUSINESS_TZ) for c in sorted(cutoffs, reverse=True)]
        for moment in passed:
            if moment <= local:
                return moment.astimezone(at.tzinfo)
    raise ValueError("no cut-off times given")


def next_cutoff(at: datetime, cutoffs: Sequence[time] = DEFAULT_CUTOFFS) -> datetime:
    """The first cut-off (Shanghai wall time) after `at`, as aware UTC."""
    local = at.astimezone(BUSINESS_TZ)
    for days in range(0, 8):
        day = local.date() + timedelta(days=days)
        for moment in (datetime.combine(day, c, BUSINESS_TZ) for c in sorted(cutoffs)):
            if moment > local:
                return moment.astimezone(at.tzinfo)
    raise ValueError("no cut-off times given")


def pay_approved_claims(*, uow: UowFactory, channels: Mapping[str, Channel], debtor_id: str,
                        now: Callable[[], datetime], today: date,
                        cutoffs: Sequence[time] = DEFAULT_CUTOFFS,
                        webhook_url: str | None = None) -> ClaimPaymentRun:
    """Pay every claim approved before the last cut-off (verified accounts only)."""
    at = now()
    run = ClaimPaymentRun(cutoff=last_cutoff(at, cutoffs))
    with uow() as unit:
        approved = unit.flows.claims.query(state=ClaimState.APPROVED, limit=10_000)
        accounts = unit.accounts.all()
        debtor = unit.accounts.get(debtor_id)
        due = [c for c in approved if c.updated_at <= run.cutoff]
        staff = {c.employee_id: unit.flows.employees.get(c.employee_id) for c in due}
    run.waiting = len(approved) - len(due)
    paying = {e.id: paying_account(e.bank, debtor, accounts) for e in staff.values()}
    failures = _verify(list(staff.values()), paying, uow, channels, now)
    drafts = [_draft(c, staff[c.employee_id], paying[c.employee_id], today) for c in due
              if failures[c.employee_id] is None]

    def work(unit: UnitOfWork) -> None:
        orders = iter(pay_as_own_batches(unit, drafts, actor="system:claims", at=at,
                                         source="claims"))
        for claim in due:
            employee = staff[claim.employee_id]
            failure = failures[claim.employee_id]
            if failure is None:
                moved = move_claim(claim, ClaimState.PAYING, at=at, order_id=next(orders).id)
                run.paying.append(moved)
            else:
                moved = move_claim(claim, ClaimState.BLOCKED, at=at, reason=failure)
                run.blocked.append(moved)
                _notify(unit, moved, employee, at, webhook_url)
            _save(unit, claim, moved, at)
        _mark_employees(unit, staff.values(), failures, at)

    in_transaction(uow, work)
    return run


def _verify(staff: Sequence[Employee], paying: Mapping[str, CompanyAccount], uow: UowFactory,
            channels: Mapping[str, Channel],
            now: Callable[[], datetime]) -> dict[str, str | None]:
    failures: dict[str, str | None] = {}
    for employee in staff:
        payee = PayeeToCheck(name=employee.name, account=employee.account, bank=employee.bank,
                             branch_code=employee.branch_code)
        [result] = verify_payees([payee], via=paying[employee.id].bank, uow=uow,
                                 channels=channels, now=now)
        failures[employee.id] = result.reason
    return failures


def _draft(claim: Claim, employee: Employee, debtor: CompanyAccount,
           today: date) -> OrderDraft:
    return OrderDraft(debtor=debtor, payee=Payee(name=employee.name, account=employee.account,
                                                 bank=employee.bank),
                      amount=claim.total, execution_date=today,
                      remittance=f"报销 {claim.title}"[:140], flow=FlowType.REIMBURSEMENT,
                      instruction_id=None, where=claim.id)


def _mark_employees(unit: UnitOfWork, staff: Iterable[Employee],
                    failures: Mapping[str, str | None], at: datetime) -> None:
    for employee in staff:
        failure = failures[employee.id]
        marked = replace(employee, verified_at=at if failure is None else None,
                         verification_reason=failure, version=employee.version + 1)
        unit.flows.employees.save(marked, expected_version=employee.version, at=at)


def _save(unit: UnitOfWork, before: Claim, after: Claim, at: datetime) -> None:
    unit.flows.claims.save(after, expected_version=before.version)
    unit.audit.append(AuditRecord(at=at, actor="system:claims", action="claim.transition",
                                  subject_kind="claim", subject_id=after.id,
                                  from_status=before.state.value, to_status=after.state.value,
                                  detail={"reason": after.reason, "order": after.order_id}))


def follow_claims(*, uow: UowFactory, now: Callable[[], datetime],
                  webhook_url: str | None = None) -> dict[str, int]:
    """Move every paying (or paid) claim to what its payment order says; notify."""
    def work(unit: UnitOfWork) -> dict[str, int]:
        moved: dict[str, int] = {}
        claims = (unit.flows.claims.query(state=ClaimState.PAYING, limit=10_000)
                  + unit.flows.claims.query(state=ClaimState.PAID, limit=10_000))
        orders = {o.id: o for o in unit.orders.get_many([c.order_id for c in claims
                                                         if c.order_id])}
        at = now()
        for claim in claims:
            order = orders.get(claim.order_id) if claim.order_id else None
            target = _target(claim, order)
            if order is None or target is None:
                continue
            after = move_claim(claim, target, at=at, reason=_reason(order))
            _save(unit, claim, after, at)
            _notify(unit, after, unit.flows.employees.get(claim.employee_id), at, webhook_url)
            moved[target.value] = moved.get(target.value, 0) + 1
        return moved

    return in_transaction(uow, work)


def _target(claim: Claim, order: PaymentOrder | None) -> ClaimState | None:
    if order is None:
        return None
    target = _OUTCOME.get(order.status)
    return None if target is None or target == claim.state else target


def _reason(order: PaymentOrder) -> str | None:
    if order.status in (Status.REJECTED, Status.RETURNED, Status.CANCELLED):
        return f"{order.reason_code or 'NARR'}: {order.reason or order.status.value}"
    return None


def _notify(unit: UnitOfWork, claim: Claim, employee: Employee, at: datetime,
            webhook_url: str | None) -> None:
    subject, template = _TEXT[claim.state]
    body = template.format(amount=claim.total, claim=claim.id, title=claim.title,
                           account=employee.account, reason=claim.reason or "")
    event = f"claim:{claim.id}:{claim.state.value}:{claim.version}"
    if employee.email:
        unit.flows.notifications.add(channel="email", recipient=employee.email,
                                     subject=subject, body=f"{employee.name}：\n\n{body}\n",
                                     event_id=f"{event}:email", at=at)
    if webhook_url:
        payload = {"event": f"claim.{claim.state.value}", "claim_id": claim.id,
                   "employee_id": claim.employee_id, "amount": f"{claim.total.amount:f}",
                   "currency": claim.total.currency.code, "order_id": claim.order_id,
                   "reason": claim.reason, "at": at.isoformat()}
        unit.flows.notifications.add(channel="webhook", recipient=webhook_url, subject=subject,
                                     body=json.dumps(payload, ensure_ascii=False),
                                     event_id=f"{event}:webhook", at=at)


def reopen_claim(*, uow: UowFactory, claim_id: str, actor: str,
                 now: Callable[[], datetime]) -> Claim:
    """Back to approved (paid at the next cut-off) after a failure, a return or a block."""
    def work(unit: UnitOfWork) -> Claim:
        claim = unit.flows.claims.get(claim_id)
        after = move_claim(claim, ClaimState.APPROVED, at=now())
        unit.flows.claims.save(after, expected_version=claim.version)
        unit.audit.append(AuditRecord(at=now(), actor=actor, action="claim.reopened",
                                      subject_kind="claim", subject_id=claim.id,
                                      from_status=claim.state.value,
                                      to_status=after.state.value))
        return after

    return in_transaction(uow, work)


def deliver_notifications(*, uow: UowFactory, now: Callable[[], datetime],
                          mailer: Mailer | None = None,
                          webhook: WebhookSender | None = None) -> dict[str, int]:
    """Send every pending message at least once; a failure stays pending (bounded)."""
    with uow() as unit:
        pending = unit.flows.notifications.pending()
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    for message in pending:
        sender = mailer if message["channel"] == "email" else webhook
        if sender is None:
            counts["skipped"] += 1
            continue
        error = _send(sender, message)
        crash_point("notify.after_send")  # K-15: sent, not yet marked: it is sent again
        give_up = error is not None and message["attempts"] + 1 >= MAX_DELIVERY_ATTEMPTS
        in_transaction(uow, lambda unit, m=message, e=error, g=give_up: unit.flows.notifications
                       .mark(m["id"], sent=e is None, at=now(), error=e, give_up=g))
        counts["sent" if error is None else "failed"] += 1
    return counts


def _send(sender: Mailer | WebhookSender, message: Mapping[str, object]) -> str | None:
    try:
        if isinstance(sender, Mailer):
            message_id = "<" + str(message["event_id"]).replace(":", ".") + "@bankgate>"
            sender.send(str(message["recipient"]), str(message["subject"]),
                        str(message["body"]), message_id=message_id)
        else:
            sender.send(str(message["event_id"]), str(message["body"]).encode())
    except DeliveryFailed as exc:
        return str(exc)
    return None
