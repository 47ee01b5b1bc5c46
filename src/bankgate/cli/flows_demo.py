"""The demo's second half (issue 7): a payroll batch, a reimbursement run, a sweep, receipts.

Called from cli/demo.py after the payments story, on the same gateway and sandbox banks.
Approvers of claims are demo people (roles given here); orders the payment policy holds are
approved and released by issue 5's demo users, as in the first half.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bankgate.bootstrap import App
from bankgate.domain import TERMINAL, PaymentOrder
from bankgate.domain.payroll import BankStatus
from bankgate.sandbox.demo_flows import DEMO_EMPLOYEES
from bankgate.services.claim_payments import follow_claims, pay_approved_claims
from bankgate.services.claims import (
    Approver,
    DuplicateInvoice,
    approve_claim,
    chain_of,
    register_employee,
    submit_claim,
)
from bankgate.services.demo_controls import act_as_demo_users
from bankgate.services.flows_queries import claims as read_claims
from bankgate.services.payroll import (
    PAYROLL_ROLE,
    import_payroll,
    payroll_report,
    reissue_line,
)
from bankgate.services.receipts import fetch_receipts, missing_receipts
from bankgate.services.transfers import follow_transfers, load_sweep_plan, sweep
from bankgate.services.worker import Worker

__all__ = ["run_flows_demo"]

BANK_TZ = ZoneInfo("Asia/Shanghai")
DEADLINE_S = 25.0
_APPROVERS = (Approver("demo:manager 部门经理", frozenset({"approver"})),
              Approver("demo:finance 财务", frozenset({"treasurer_admin"})))


def run_flows_demo(app: App, say: Callable[[str], object]) -> dict[str, Any]:
    """Tell the flows' story; its JSON summary."""
    today = datetime.now(BANK_TZ).date()
    payroll = _payroll(app, today)
    claims = _claims(app, today)
    transfers = _sweep(app, today)
    _follow(app, payroll["orders"] + claims["orders"] + transfers["orders"])
    transfers["final"] = follow_transfers(uow=app.uow, channels=app.channels, now=app.now)
    payroll["paid_again"] = _reissue(app, payroll["run"], today)  # after the top-up
    _follow(app, payroll["paid_again"])
    payroll["final"] = payroll_report(uow=app.uow, run_id=payroll["run"],
                                      roles=frozenset({PAYROLL_ROLE})).counts()
    claims["final"] = _claim_states(app, claims)
    receipts = _receipts(app, today)
    say(f"\n6. Payroll 代发工资: {payroll['lines']} lines: {_counts(payroll['final'])}; "
        f"not paid: {'; '.join(f'{k} ({v})' for k, v in payroll['not_paid'].items()) or 'none'}"
        f"; paid again after the bank's "
        f"refusal: {len(payroll['paid_again'])}")
    refused = "refused" if claims["duplicate_refused"] else "NOT refused"
    say(f"7. Reimbursement 报销: {claims['submitted']} claims, a duplicate invoice {refused}; "
        f"{_counts(claims['final'])}")
    say("8. Cash pooling 资金调拨: " + "; ".join(transfers["outcomes"]))
    say(f"9. Receipts 电子回单: {receipts['new']} stored, {receipts['verified']} verified, "
        f"{receipts['linked']} linked to payments; settled payments still without one 3 "
        f"days on, at the banks that issue them: {receipts['missing']}")
    for part in (payroll, claims, transfers):
        del part["orders"]
    return {"payroll": payroll, "claims": claims, "sweep": transfers, "receipts": receipts}


def _payroll(app: App, today: Any) -> dict[str, Any]:
    rows = [(e, name, number, bank, "8800.00")
            for e, (name, _, bank, number, _) in DEMO_EMPLOYEES.items()]
    lines = ["付款账户,icbc-cny", "工资月份," + f"{today:%Y-%m}", f"总笔数,{len(rows)}",
             f"总金额,{8800 * len(rows)}.00", "", "工号,姓名,账号,开户行,金额"]
    lines += [",".join(row) for row in rows]
    done = import_payroll(uow=app.uow, channels=app.channels, origin="demo-payroll.csv",
                          content=("\n".join(lines) + "\n").encode(), actor="user:demo-hr",
                          now=app.now, today=today)
    held = _orders(app, [line.order_id for line in done.lines if line.order_id])
    act_as_demo_users(uow=app.uow, sealer=app.sealer, now=app.now, orders=held)
    return {"run": done.run.id, "lines": len(done.lines), "orders": [o.id for o in held],
            "not_paid": {line.employee_id: line.reason for line in done.lines if line.reason}}


def _reissue(app: App, run_id: str, today: Any) -> list[str]:
    """Pay again the lines the bank rejected (boc's account was empty before the top-up)."""
    report = payroll_report(uow=app.uow, run_id=run_id, roles=frozenset({PAYROLL_ROLE}))
    again = [reissue_line(uow=app.uow, channels=app.channels, run_id=run_id,
                          employee_id=line.employee_id, actor="user:demo-hr", now=app.now,
                          today=today)
             for line in report.lines if line.status is BankStatus.REJECTED]
    held = _orders(app, [line.order_id for line in again if line.order_id])
    act_as_demo_users(uow=app.uow, sealer=app.sealer, now=app.now, orders=held)
    return [o.id for o in held]


def _claims(app: App, today: Any) -> dict[str, Any]:
    for employee, (name, department, bank, number, _) in DEMO_EMPLOYEES.items():
        register_employee(uow=app.uow, now=app.now, data={
            "id": employee, "name": name, "department": department, "bank": bank,
            "account": number, "email": f"{employee.lower()}@example.com"})
    invoice = {"code": "3100232130", "number": f"{int(time.time()) % 10**8:08d}",
               "issued_on": today.isoformat(), "amount": "1132.08", "tax": "67.92",
               "seller": "北京某某酒店有限公司"}
    requests = [("D001", "travel", "1200.00", invoice),
                ("D002", "entertainment", "800.00", {**invoice, "number": _next(invoice),
                                                     "amount": "754.72", "tax": "45.28"}),
                ("D006", "transport", "300.00", None)]
    made = [submit_claim(uow=app.uow, actor="user:demo", now=app.now, today=today,
                         attachments=[("invoice.pdf", b"%PDF-1.4 demo invoice scan")],
                         data={"employee_id": who, "title": f"{today:%m}月报销 {category}",
                               "lines": [_line(category, amount, today, inv)]})
            for who, category, amount, inv in requests]
    refused = _duplicate_refused(app, today, invoice)
    for claim in made:
        for approver in _APPROVERS[:len(chain_of(claim))]:
            approve_claim(uow=app.uow, claim_id=claim.id, approver=approver, approved=True,
                          now=lambda: datetime.now(UTC) - timedelta(minutes=1))
    cutoff = datetime.now(BANK_TZ).time().replace(microsecond=0)  # the demo runs one now
    run = pay_approved_claims(uow=app.uow, channels=app.channels, debtor_id="icbc-cny",
                              now=app.now, today=today, cutoffs=(cutoff,))
    held = _orders(app, [c.order_id for c in run.paying if c.order_id])
    act_as_demo_users(uow=app.uow, sealer=app.sealer, now=app.now, orders=held)
    return {"submitted": len(made), "ids": [c.id for c in made],
            "duplicate_refused": refused, "paying": len(run.paying),
            "blocked": {c.id: c.reason for c in run.blocked}, "orders": [o.id for o in held]}


def _next(invoice: dict[str, str]) -> str:
    return f"{(int(invoice['number']) + 1) % 10**8:08d}"


def _line(category: str, amount: str, today: Any, invoice: dict[str, str] | None
          ) -> dict[str, Any]:
    line: dict[str, Any] = {"category": category, "cost_centre": "CC-DEMO",
                            "description": f"demo {category}", "expense_date": today.isoformat(),
                            "amount": amount}
    if invoice is not None:
        line["invoice"] = invoice
    return line


def _duplicate_refused(app: App, today: Any, invoice: dict[str, str]) -> bool:
    try:
        submit_claim(uow=app.uow, actor="user:demo", now=app.now, today=today, attachments=[],
                     data={"employee_id": "D004", "title": "same invoice again",
                           "lines": [_line("travel", "1200.00", today, invoice)]})
    except DuplicateInvoice:
        return True
    return False


def _sweep(app: App, today: Any) -> dict[str, Any]:
    plan = load_sweep_plan({"header": "icbc-cny", "rule": [
        {"id": "cmb-pool", "account": "cmb-cny", "target": "1000000.00",
         "sweep_above": "1500000.00", "execute": True},
        {"id": "boc-pool", "account": "boc-cny", "target": "200000.00",
         "top_up_below": "100000.00", "execute": True}]})
    run = sweep(uow=app.uow, channels=app.channels, plan=plan, now=app.now, today=today)
    held = _orders(app, [t.order_id for t in run.transfers if t.order_id])
    act_as_demo_users(uow=app.uow, sealer=app.sealer, now=app.now, orders=held)
    return {"outcomes": run.outcomes, "orders": [o.id for o in held],
            "transfers": [{"id": t.id, "from": t.source, "to": t.target,
                           "amount": f"{t.amount.amount:f}"} for t in run.transfers]}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _receipts(app: App, today: Any) -> dict[str, Any]:
    done = fetch_receipts(uow=app.uow, channels=app.channels, on=today, now=app.now)
    late = missing_receipts(uow=app.uow, channels=app.channels,
                            now=lambda: datetime.now(UTC) + timedelta(days=3))
    return {"fetched": done.fetched, "new": done.new, "verified": done.verified,
            "linked": done.linked, "problems": done.problems[:5], "missing": len(late)}


def _orders(app: App, ids: Sequence[str]) -> list[PaymentOrder]:
    with app.uow() as unit:
        return unit.orders.get_many(list(ids))


def _follow(app: App, ids: list[str]) -> None:
    worker = Worker(app.job_context(), concurrency=4, lease_s=30)
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            if all(o.status in TERMINAL for o in _orders(app, ids)):
                return
            if not worker.run_once():
                time.sleep(0.05)
    finally:
        worker.close()


def _claim_states(app: App, claims: dict[str, Any]) -> dict[str, int]:
    follow_claims(uow=app.uow, now=app.now)
    counts: dict[str, int] = {}
    for claim_id in claims["ids"]:
        [claim] = read_claims(uow=app.uow, claim_id=claim_id)
        counts[claim.state.value] = counts.get(claim.state.value, 0) + 1
    return counts

