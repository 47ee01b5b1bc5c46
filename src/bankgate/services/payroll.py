"""Payroll (代发工资): import a file once, verify every employee's account, pay, follow.

Each line is paid from our account at the employee's own bank when we hold one in the
payroll's currency (同行代发, cheaper and same day), else from the file's paying account; the
lines of one paying account travel as their own batch, never mixed with other payments. A
line whose account fails verification is not paid and says why; the others are. A rejected
or returned line can be paid again with corrected details (`reissue_line`). Amounts are shown
only to a viewer holding the payroll role (`PAYROLL_ROLE`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError

from bankgate.connectors.base import Channel
from bankgate.domain import CompanyAccount, FlowType, OrderId, Payee, PaymentOrder, bank_id
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.payroll import (
    BankStatus,
    LineState,
    PayrollLine,
    PayrollRun,
    bank_status,
    may_reissue,
)
from bankgate.domain.people import Role
from bankgate.errors import DomainError
from bankgate.formats.payroll import InvalidPayrollFile, PayrollFile, PayrollRow, read_payroll
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.flows_orders import pay_as_own_batches, paying_account
from bankgate.services.intake import OrderDraft
from bankgate.services.verification import PayeeToCheck, verify_payees
from bankgate.store import UnitOfWork

__all__ = ["PAYROLL_ROLE", "LineView", "NotReissuable", "PayrollImport", "PayrollReport",
           "import_payroll", "payroll_report", "reissue_line"]

#: The role that may see payroll amounts (issue 5's roles).
PAYROLL_ROLE = Role.PAYROLL


class NotReissuable(DomainError):
    """The line is paid, or its money is still on its way: it cannot be paid again."""

    code = "conflict"


@dataclass(frozen=True, slots=True)
class PayrollImport:
    """A run and its lines; `created` is False when the same file was imported before."""

    run: PayrollRun
    lines: list[PayrollLine]
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LineView:
    """One employee's pay as a viewer may see it (`amount` None without the payroll role)."""

    employee_id: str
    name: str
    account: str  # masked
    bank: str
    amount: str | None
    status: BankStatus
    reason: str | None
    order_id: str | None
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PayrollReport:
    """A run with every line's bank status."""

    run: PayrollRun
    total: str | None
    lines: list[LineView]

    def counts(self) -> dict[str, int]:
        """Lines per bank status."""
        found: dict[str, int] = defaultdict(int)
        for line in self.lines:
            found[line.status.value] += 1
        return dict(found)


def import_payroll(*, uow: UowFactory, channels: Mapping[str, Channel], content: bytes,
                   origin: str, actor: str, now: Callable[[], datetime],
                   today: date) -> PayrollImport:
    """Import a payroll file all or nothing, once per content (K-03); pay the verified lines.

    Raises:
        InvalidPayrollFile: naming every row and field at fault; nothing is stored.
    """
    digest = hashlib.sha256(content).hexdigest()
    earlier = _earlier(uow, digest)
    if earlier is not None:
        return earlier
    payroll = read_payroll(content, origin)
    with uow() as unit:
        accounts = unit.accounts.all()
    debtor = _debtor(payroll, accounts, origin)
    paying = [paying_account(row.bank, debtor, accounts) for row in payroll.rows]
    checks = _verify(payroll.rows, paying, uow, channels, now)
    run = PayrollRun(id=f"pr_{digest[:24]}", content_sha256=digest, origin=origin,
                     period=payroll.period, debtor=debtor.id, total=payroll.total,
                     line_count=payroll.count, actor=actor, created_at=now())
    lines = [_line(run.id, row, reason) for row, reason in zip(payroll.rows, checks, strict=True)]
    try:
        return in_transaction(uow, lambda unit: _store(unit, run, lines, paying, actor, today))
    except IntegrityError:  # a twin import of the same file committed first
        found = _earlier(uow, digest)
        if found is None:
            raise
        return found


def _earlier(uow: UowFactory, digest: str) -> PayrollImport | None:
    with uow() as unit:
        run = unit.flows.payroll.by_content(digest)
        return None if run is None else PayrollImport(run, unit.flows.payroll.lines(run.id),
                                                      created=False)


def _debtor(payroll: PayrollFile, accounts: Sequence[CompanyAccount],
            origin: str) -> CompanyAccount:
    found = next((a for a in accounts if a.id == payroll.debtor_account), None)
    where = "control block"
    if found is None:
        raise InvalidPayrollFile(origin, [(where, f"付款账户 (debtor_account): "
                                                  f"{payroll.debtor_account!r} is not one of "
                                                  "our account ids")])
    if found.currency != payroll.currency:
        raise InvalidPayrollFile(origin, [(where, f"币种 (currency): the payroll is in "
                                                  f"{payroll.currency.code}, account "
                                                  f"{found.id} in {found.currency.code}")])
    return found


def _verify(rows: Sequence[PayrollRow], paying: Sequence[CompanyAccount], uow: UowFactory,
            channels: Mapping[str, Channel], now: Callable[[], datetime]) -> list[str | None]:
    """Each row's verification failure reason (None: passed), asked of its paying bank."""
    reasons: list[str | None] = [None] * len(rows)
    by_bank: dict[str, list[int]] = defaultdict(list)
    for index, account in enumerate(paying):
        by_bank[account.bank].append(index)
    for bank, indexes in by_bank.items():
        payees = [PayeeToCheck(name=rows[i].name, account=rows[i].account, bank=rows[i].bank,
                               branch_code=rows[i].branch_code) for i in indexes]
        for index, result in zip(indexes, verify_payees(payees, via=bank, uow=uow,
                                                        channels=channels, now=now),
                                 strict=True):
            reasons[index] = result.reason
    return reasons


def _line(run_id: str, row: PayrollRow, failure: str | None) -> PayrollLine:
    return PayrollLine(run_id=run_id, line_no=row.line_no, where=row.where,
                       employee_id=row.employee_id, name=row.name, account=row.account,
                       bank=row.bank, branch_code=row.branch_code, amount=row.amount,
                       remittance=row.remittance,
                       state=LineState.VERIFICATION_FAILED if failure else LineState.ORDERED,
                       reason=failure, order_id=None, attempts=0 if failure else 1, version=1)


def _draft(line: PayrollLine, debtor: CompanyAccount, today: date) -> OrderDraft:
    return OrderDraft(debtor=debtor, payee=Payee(name=line.name, account=line.account,
                                                 bank=line.bank),
                      amount=line.amount, execution_date=today, remittance=line.remittance,
                      flow=FlowType.PAYROLL, instruction_id=None, where=line.where)


def _store(unit: UnitOfWork, run: PayrollRun, lines: list[PayrollLine],
           paying: Sequence[CompanyAccount], actor: str, today: date) -> PayrollImport:
    if unit.flows.payroll.by_content(run.content_sha256) is not None:
        raise IntegrityError("payroll run", {}, Exception("already imported"))
    ordered = [i for i, line in enumerate(lines) if line.state is LineState.ORDERED]
    orders = pay_as_own_batches(unit, [_draft(lines[i], paying[i], today) for i in ordered],
                                actor=actor, at=run.created_at, source=f"payroll:{run.id}")
    for index, order in zip(ordered, orders, strict=True):
        lines[index] = replace(lines[index], order_id=order.id)
    unit.flows.payroll.add(run, lines)
    unit.audit.append(AuditRecord(
        at=run.created_at, actor=actor, action="payroll.imported", subject_kind="payroll",
        subject_id=run.id, detail={"origin": run.origin, "lines": len(lines),
                                   "ordered": len(orders), "period": run.period,
                                   "not_paid": [lines[i].employee_id for i in range(len(lines))
                                                if i not in set(ordered)]}))
    return PayrollImport(run, lines, created=True)


def payroll_report(*, uow: UowFactory, run_id: str, roles: frozenset[str]) -> PayrollReport:
    """Every line's bank status; amounts only for a viewer with the payroll role."""
    with uow() as unit:
        run = unit.flows.payroll.get(run_id)
        lines = unit.flows.payroll.lines(run_id)
        orders = _orders(unit, [line.order_id for line in lines if line.order_id])
    shows = PAYROLL_ROLE in roles
    views = [_view(line, orders.get(line.order_id or ""), shows) for line in lines]
    return PayrollReport(run=run, total=f"{run.total.amount:f}" if shows else None, lines=views)


def _orders(unit: UnitOfWork, ids: Sequence[OrderId]) -> dict[str, PaymentOrder]:
    return {o.id: o for o in unit.orders.get_many(list(ids))}


def _view(line: PayrollLine, order: PaymentOrder | None, shows: bool) -> LineView:
    status = bank_status(line.state, order.status if order else None)
    reason = line.reason
    if order is not None and status in (BankStatus.REJECTED, BankStatus.RETURNED):
        reason = f"{order.reason_code or 'NARR'}: {order.reason or 'no reason given'}"
    return LineView(employee_id=line.employee_id, name=line.name, account=str(line.account),
                    bank=line.bank, amount=f"{line.amount.amount:f}" if shows else None,
                    status=status, reason=reason, order_id=line.order_id,
                    attempts=line.attempts)


def reissue_line(*, uow: UowFactory, channels: Mapping[str, Channel], run_id: str,
                 employee_id: str, actor: str, now: Callable[[], datetime], today: date,
                 name: str | None = None, account: object = None,
                 bank: str | None = None) -> PayrollLine:
    """Pay a rejected, returned or unverified line again, with corrected details if given.

    The new details are verified first; a failure is recorded on the line (and returned),
    not paid. Raises:
        NotReissuable: the line is paid or its money is still on its way.
    """
    with uow() as unit:
        line = unit.flows.payroll.line(run_id, employee_id)
        order = _orders(unit, [line.order_id]).get(line.order_id) if line.order_id else None
        run = unit.flows.payroll.get(run_id)
        accounts = unit.accounts.all()
    status = bank_status(line.state, order.status if order else None)
    if not may_reissue(status):
        raise NotReissuable(f"payroll line {run_id}/{employee_id} is {status.value}; only "
                            "rejected, returned or unverified lines can be paid again")
    changed = replace(line, name=name or line.name, account=account or line.account,  # type: ignore[arg-type]
                      bank=bank_id(bank) if bank else line.bank)
    debtor = next(a for a in accounts if a.id == run.debtor)
    paying = paying_account(changed.bank, debtor, accounts)
    [failure] = _verify([_as_row(changed)], [paying], uow, channels, now)

    def work(unit: UnitOfWork) -> PayrollLine:
        if failure:
            saved = replace(changed, state=LineState.VERIFICATION_FAILED, reason=failure,
                            version=line.version + 1)
        else:
            [new] = pay_as_own_batches(unit, [_draft(changed, paying, today)], actor=actor,
                                       at=now(), source=f"payroll:{run_id}")
            saved = replace(changed, state=LineState.ORDERED, reason=None, order_id=new.id,
                            attempts=line.attempts + 1, version=line.version + 1)
        unit.flows.payroll.save_line(saved, expected_version=line.version)
        unit.audit.append(AuditRecord(
            at=now(), actor=actor, action="payroll.reissued", subject_kind="payroll",
            subject_id=run_id, detail={"employee_id": employee_id, "was": status.value,
                                       "previous_order": line.order_id,
                                       "order": saved.order_id, "failure": failure}))
        return saved

    return in_transaction(uow, work)


def _as_row(line: PayrollLine) -> PayrollRow:
    return PayrollRow(where=line.where, line_no=line.line_no, employee_id=line.employee_id,
                      name=line.name, account=line.account, bank=line.bank,
                      branch_code=line.branch_code, amount=line.amount,
                      remittance=line.remittance)

