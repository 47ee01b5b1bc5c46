"""Claims (报销): invoices once, checks against the invoice, the chain, paid at the cut-off,
the claim following its payment, the employee told by mail and the ERP by webhook."""

from __future__ import annotations

import itertools
import json
import time as wall
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bankgate.domain import Money, currency
from bankgate.domain.claims import ClaimState, IllegalClaimTransition, Invoice
from bankgate.errors import DutyConflict, PermissionDenied
from bankgate.notify import Mailer, SmtpConfig, WebhookSender, verify
from bankgate.sandbox.run import RunningSandbox
from bankgate.services.claim_payments import (
    BUSINESS_TZ,
    deliver_notifications,
    follow_claims,
    last_cutoff,
    pay_approved_claims,
    reopen_claim,
)
from bankgate.services.claim_rules import load_claim_rules
from bankgate.services.claims import (
    Approver,
    DuplicateInvoice,
    InvalidClaim,
    InvalidEmployee,
    approve_claim,
    chain_of,
    parse_claim,
    register_employee,
    submit_claim,
)
from bankgate.services.worker import Worker
from tests.flows_world import EMPLOYEES, OTHER_BANK, card, gateway, running_sandbox
from tests.notify_servers import smtp_server, webhook_server

TODAY = datetime.now(BUSINESS_TZ).date()
MANAGER = Approver("user:manager", frozenset({"approver"}))
FINANCE = Approver("user:cfo", frozenset({"treasurer_admin"}))
SECRET = b"erp-webhook-secret-0123456789"
_numbers = itertools.count(10_000_000)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
def app(store_url, sandbox):
    with gateway(store_url, sandbox) as application:
        for employee in ("E001", "E002", "E004"):
            register(application, employee)
        yield application


def register(app, employee: str, **changes):
    name, bank, number, _ = EMPLOYEES[employee]
    data = {"id": employee, "name": name, "department": "研发部", "bank": bank,
            "account": number, "email": f"{employee.lower()}@example.com", **changes}
    return register_employee(uow=app.uow, data=data, now=app.now)


def an_invoice(amount: str = "507.34", tax: str = "45.66", *, number: str | None = None,
               issued_on: date = TODAY, code: str = "3100232130") -> dict:
    return {"code": code, "number": number or str(next(_numbers)),
            "issued_on": issued_on.isoformat(), "amount": amount, "tax": tax,
            "seller": "上海某某酒店管理有限公司"}


def a_line(amount: str = "553.00", *, category: str = "travel", invoice: dict | None = None,
           expense_date: date = TODAY, no_invoice: bool = False) -> dict:
    line = {"category": category, "cost_centre": "CC-RD-01", "description": "高铁 上海-北京",
            "expense_date": expense_date.isoformat(), "amount": amount}
    if not no_invoice:
        line["invoice"] = invoice or an_invoice()
    return line


def submit(app, *lines: dict, employee: str = "E001", attachments=()):
    data = {"employee_id": employee, "title": "11月北京出差", "lines": list(lines) or [a_line()]}
    return submit_claim(uow=app.uow, data=data, attachments=list(attachments), actor="user:e",
                        now=app.now, today=TODAY)


def approve_all(app, claim, *, at=None):
    now = (lambda: at) if at else app.now
    for approver in (MANAGER, FINANCE)[:len(chain_of(claim))]:
        claim = approve_claim(uow=app.uow, claim_id=claim.id, approver=approver, approved=True,
                              now=now)
    return claim


def follow_payments(app) -> None:
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    try:
        assert worker.run_until_idle(timeout_s=20)
    finally:
        worker.close()


def pay_now(app, **options):
    return pay_approved_claims(uow=app.uow, channels=app.channels, debtor_id="icbc-cny",
                               now=app.now, today=TODAY,
                               cutoffs=(_an_hour_ago(),), **options)


def _an_hour_ago() -> time:
    return (datetime.now(BUSINESS_TZ) - timedelta(hours=1)).time().replace(microsecond=0)


# -- invoices ------------------------------------------------------------------------------


def test_a_claim_is_stored_with_its_lines_invoices_and_attachments_kept_by_hash(app):
    pdf = b"%PDF-1.4 invoice scan"
    claim = submit(app, a_line(), a_line("120.00", category="meals",
                                         invoice=an_invoice("113.21", "6.79")),
                   attachments=[("发票1.pdf", pdf), ("行程单.pdf", b"itinerary")])
    with app.uow() as unit:
        stored = unit.flows.claims.get(claim.id)
        files = unit.flows.claims.attachments(claim.id)
        assert unit.flows.claims.raw(dict(files)["发票1.pdf"]) == pdf
    assert stored.total.amount == 673 and stored.state is ClaimState.SUBMITTED
    assert [line.invoice.gross.amount for line in stored.lines] == [553, 120]
    assert len({digest for _, digest in files}) == 2


def test_an_invoice_already_claimed_by_another_employee_is_refused(app):
    invoice = an_invoice()
    first = submit(app, a_line(invoice=invoice))
    with pytest.raises(DuplicateInvoice, match=f"{invoice['number']} is already claimed on "
                                               f"claim {first.id}"):
        submit(app, a_line(invoice=invoice), employee="E002")
    with app.uow() as unit:
        assert [c.id for c in unit.flows.claims.query()] == [first.id]


def test_the_store_itself_refuses_a_second_row_for_one_invoice(app):
    claim = submit(app)
    other = replace(claim, id="cl_twin")
    with pytest.raises(IntegrityError), app.uow() as unit:
        unit.flows.claims.add(other, [])  # same invoice code + number: the unique key holds


def test_one_invoice_twice_in_one_claim_is_refused():
    invoice = an_invoice("100.00", "0.00")
    with pytest.raises(InvalidClaim, match=r"line 2: invoice 3100232130/.* is also on line 1"):
        parse_claim({"employee_id": "E001", "title": "t",
                     "lines": [a_line("50.00", invoice=invoice),
                               a_line("50.00", invoice=invoice)]},
                    rules=load_claim_rules(), today=TODAY)


BAD_LINES = [
    (a_line("600.00"), "line 1: claims 600.00 CNY, more than invoice 3100232130/"),
    (a_line(invoice=an_invoice(issued_on=TODAY + timedelta(days=1))), "in the future"),
    (a_line(expense_date=TODAY + timedelta(days=2)), "expense date"),
    (a_line(expense_date=TODAY - timedelta(days=200),
            invoice=an_invoice(issued_on=TODAY - timedelta(days=200))), "报销时限"),
    (a_line(invoice=an_invoice(issued_on=TODAY - timedelta(days=10))),
     "before the expense on"),
    (a_line(category="golf"), "category 'golf' is not one of"),
    (a_line("0.00"), "amount must be greater than zero"),
    (a_line("12.345"), "lines[1].amount: 12.345 has more decimals than CNY allows"),
    (a_line(invoice=an_invoice(number="1234")), "lines[1].invoice.number: '1234' is not an "
                                                "invoice number (8 digits)"),
    (a_line(invoice={**an_invoice(), "code": "", "number": "123"}),
     "is not a fully digital invoice number (20 digits)"),
    (a_line(invoice={**an_invoice(), "seller": ""}), "lines[1].invoice.seller: must not be "
                                                     "empty"),
    ({**a_line(), "colour": "red"}, "lines[1].colour: not a field of a claim line"),
    ({**a_line(), "expense_date": "20/11/2026"}, "lines[1].expense_date: '20/11/2026' is not "
                                                 "a date"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_every_bad_claim_line_is_refused_with_its_place(line, message):
    with pytest.raises(InvalidClaim) as caught:
        parse_claim({"employee_id": "E001", "title": "t", "lines": [line]},
                    rules=load_claim_rules(), today=TODAY)
    assert message in str(caught.value)


def test_a_refused_claim_stores_nothing(app):
    with pytest.raises(InvalidClaim, match="more than invoice"):
        submit(app, a_line(), a_line("600.00"))
    with app.uow() as unit:
        assert unit.flows.claims.query() == [] and unit.audit.count("claim.submitted") == 0


def test_a_claim_of_an_unknown_employee_or_without_lines_is_refused(app):
    with pytest.raises(InvalidClaim, match="'E999' is not a registered employee"):
        submit(app, employee="E999")
    with pytest.raises(InvalidClaim, match="lines: expected a list of 1 to 200 lines"):
        submit_claim(uow=app.uow, data={"employee_id": "E001", "title": "x", "lines": []},
                     attachments=[], actor="user:e", now=app.now, today=TODAY)


# -- the approval chain --------------------------------------------------------------------


def test_a_small_travel_claim_needs_its_manager_and_an_entertainment_one_finance_too(app):
    small = submit(app)
    dinner = submit(app, a_line("300.00", category="entertainment",
                                invoice=an_invoice("283.02", "16.98")))
    large = submit(app, a_line("6000.00", invoice=an_invoice("5660.38", "339.62")))
    assert [s.name for s in chain_of(small)] == ["manager"]
    assert [s.name for s in chain_of(dinner)] == ["manager", "finance"]
    assert "业务招待费" in chain_of(dinner)[1].why
    assert "at least 5000.00" in chain_of(large)[1].why
    assert [s.name for s in chain_of(small, policy_approvals=lambda c: 2)] == [
        "manager", "policy-1", "policy-2"]
    assert approve_all(app, dinner).state is ClaimState.APPROVED


def test_approvers_need_the_role_are_not_the_claimant_and_decide_one_step_each(app):
    claim = submit(app, a_line("300.00", category="entertainment",
                               invoice=an_invoice("283.02", "16.98")))

    def decide(approver):
        return approve_claim(uow=app.uow, claim_id=claim.id, approver=approver, approved=True,
                             now=app.now)

    with pytest.raises(PermissionDenied, match="needs one of the roles approver"):
        decide(FINANCE)
    with pytest.raises(DutyConflict, match="cannot approve their own claim"):
        decide(Approver("user:zhangwei", frozenset({"approver"}), employee_id="E001"))
    decide(Approver("user:both", frozenset({"approver", "treasurer_admin"})))
    with pytest.raises(DutyConflict, match="already decided a step"):
        decide(Approver("user:both", frozenset({"approver", "treasurer_admin"})))
    assert decide(FINANCE).state is ClaimState.APPROVED
    with pytest.raises(IllegalClaimTransition, match="is approved; nothing to approve"):
        decide(MANAGER)


def test_a_refused_step_rejects_the_claim_with_who_and_why(app):
    claim = submit(app)
    rejected = approve_claim(uow=app.uow, claim_id=claim.id, approver=MANAGER, approved=False,
                             note="not a business trip", now=app.now)
    assert rejected.state is ClaimState.REJECTED
    assert rejected.reason == "rejected at step manager by user:manager: not a business trip"


# -- paying ---------------------------------------------------------------------------------


def test_claims_approved_before_the_cut_off_are_paid_and_later_ones_wait(app):
    early = approve_all(app, submit(app), at=datetime.now(UTC) - timedelta(hours=2))
    late = approve_all(app, submit(app, employee="E002"))
    run = pay_now(app)
    assert [c.id for c in run.paying] == [early.id] and run.waiting == 1
    with app.uow() as unit:
        order = unit.orders.get(run.paying[0].order_id)
        assert unit.flows.claims.get(late.id).state is ClaimState.APPROVED
    assert order.flow.value == "reimbursement" and order.payee.name == "张伟"
    assert order.payee.account.reveal() == EMPLOYEES["E001"][2] and order.debtor == "icbc-cny"


def test_a_paid_claim_tells_the_employee_by_mail_and_the_erp_by_a_signed_webhook(app):
    claim = approve_all(app, submit(app, employee="E002"),
                        at=datetime.now(UTC) - timedelta(hours=2))
    with smtp_server() as mail, webhook_server() as hook:
        pay_now(app, webhook_url=hook.url)
        follow_payments(app)
        assert follow_claims(uow=app.uow, now=app.now, webhook_url=hook.url) == {"paid": 1}
        sender = WebhookSender(hook.url, SECRET)
        sent = deliver_notifications(
            uow=app.uow, now=app.now, webhook=sender,
            mailer=Mailer(SmtpConfig(host="127.0.0.1", port=mail.port,
                                     sender="bankgate@example.com")))
        sender.close()
    assert sent == {"sent": 2, "failed": 0, "skipped": 0}
    [message] = mail.messages
    assert message["To"] == "e002@example.com" and "报销已到账" in message["Subject"]
    assert claim.id in message.get_content()
    [(headers, body)] = hook.requests
    assert json.loads(body)["event"] == "claim.paid"
    assert verify(SECRET, timestamp=headers["x-bankgate-timestamp"],
                  signature=headers["x-bankgate-signature"], body=body, now=wall.time())
    assert not verify(b"another-secret-0123456789", timestamp=headers["x-bankgate-timestamp"],
                      signature=headers["x-bankgate-signature"], body=body, now=wall.time())
    with app.uow() as unit:
        assert unit.flows.claims.get(claim.id).state is ClaimState.PAID


def test_an_employee_whose_account_fails_verification_is_not_paid_and_is_told(app):
    claim = approve_all(app, submit(app, employee="E004"),
                        at=datetime.now(UTC) - timedelta(hours=2))
    other = approve_all(app, submit(app), at=datetime.now(UTC) - timedelta(hours=2))
    run = pay_now(app)
    assert [c.id for c in run.blocked] == [claim.id] and [c.id for c in run.paying] == [other.id]
    assert "account is closed" in (run.blocked[0].reason or "")
    with app.uow() as unit:
        [note] = unit.flows.notifications.all()
        assert note["recipient"] == "e004@example.com" and "请更新收款账户" in note["subject"]
        assert unit.flows.employees.get("E004").verification_reason.startswith("bank_name")


def test_undelivered_mail_stays_queued_and_is_sent_later(app):
    claim = approve_all(app, submit(app, employee="E004"),
                        at=datetime.now(UTC) - timedelta(hours=2))
    pay_now(app)
    with smtp_server() as mail:
        port = mail.port
    down = Mailer(SmtpConfig(host="127.0.0.1", port=port, sender="bankgate@example.com",
                             timeout_s=1))
    assert deliver_notifications(uow=app.uow, now=app.now, mailer=down)["failed"] == 1
    with smtp_server() as mail:
        up = Mailer(SmtpConfig(host="127.0.0.1", port=mail.port, sender="b@example.com"))
        assert deliver_notifications(uow=app.uow, now=app.now, mailer=up)["sent"] == 1
        assert deliver_notifications(uow=app.uow, now=app.now, mailer=up)["sent"] == 0
    assert claim.id in mail.messages[0].get_content()


@pytest.fixture
def own_sandbox(tmp_path) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path / "sandbox") as running:
        yield running


def test_a_returned_payment_returns_the_claim_and_it_is_paid_again_after_a_fix(store_url,
                                                                             own_sandbox):
    with gateway(store_url, own_sandbox) as app:
        register(app, "E006")
        claim = approve_all(app, submit(app, employee="E006"),
                            at=datetime.now(UTC) - timedelta(hours=2))
        pay_now(app)
        own_sandbox.ledger.close_account(OTHER_BANK, EMPLOYEES["E006"][2])
        follow_payments(app)
        assert follow_claims(uow=app.uow, now=app.now) == {"returned": 1}
        with app.uow() as unit:
            returned = unit.flows.claims.get(claim.id)
        assert returned.state is ClaimState.RETURNED and returned.reason.startswith("AC04")
        register(app, "E006", name="张伟", account=card("622202", 1001), bank="icbc")
        reopen_claim(uow=app.uow, claim_id=claim.id, actor="user:cashier",
                     now=lambda: datetime.now(UTC) - timedelta(hours=2))
        assert len(pay_now(app).paying) == 1
        follow_payments(app)
        assert follow_claims(uow=app.uow, now=app.now) == {"paid": 1}


def test_the_cut_off_is_the_latest_one_passed_in_shanghai_time():
    at = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)  # 11:30 in Shanghai
    assert last_cutoff(at) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00
    early = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30: yesterday's 15:00
    assert last_cutoff(early) == datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


def test_invoice_totals_are_amount_plus_tax():
    cny = currency("CNY")
    invoice = Invoice(code="", number="2" * 20, issued_on=TODAY,
                      amount=Money.from_minor(50734, cny), tax=Money.from_minor(4566, cny),
                      seller="s")
    assert invoice.gross == Money.from_minor(55300, cny) and invoice.key == ("", "2" * 20)


@pytest.mark.parametrize(("changes", "message"), [
    ({"account": "6222 0202"}, "employee.account"),
    ({"bank": "ICBC"}, "employee.bank"),
    ({"name": ""}, "employee.name: must not be empty"),
    ({"salary": "1"}, "employee.salary: not a field of an employee"),
])
def test_a_bad_employee_record_is_refused_naming_the_field(app, changes, message):
    with pytest.raises(InvalidEmployee, match=message):
        register(app, "E005", **changes)
