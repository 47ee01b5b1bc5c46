"""Payroll (代发工资): import once, verify every account, one batch per paying bank, follow."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from bankgate.domain import AccountNumber, FlowType
from bankgate.domain.payroll import BankStatus
from bankgate.formats.payroll import InvalidPayrollFile, read_payroll
from bankgate.sandbox.run import RunningSandbox
from bankgate.services.payroll import (
    PAYROLL_ROLE,
    NotReissuable,
    import_payroll,
    payroll_report,
    reissue_line,
)
from bankgate.services.worker import Worker
from tests.flows_world import EMPLOYEES, OTHER_BANK, card, gateway, running_sandbox

TODAY = date.today()
PAYROLL = frozenset({PAYROLL_ROLE})


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
def app(store_url, sandbox):
    with gateway(store_url, sandbox) as application:
        yield application


def rows_for(*employees: str, amount: str = "8500.00") -> list[list[str]]:
    return [[e, EMPLOYEES[e][0], EMPLOYEES[e][2], EMPLOYEES[e][1], "", amount, ""]
            for e in employees]


def payroll_csv(rows: list[list[str]], *, debtor: str = "icbc-cny", period: str = "2026-11",
                count: int | None = None, total: str | None = None) -> bytes:
    summed = sum((Decimal(r[5]) for r in rows if r[5].replace(".", "", 1).isdigit()), Decimal(0))
    lines = [f"付款账户,{debtor}", f"工资月份,{period}",
             f"总笔数,{len(rows) if count is None else count}",
             f"总金额,{summed:.2f}" if total is None else f"总金额,{total}", "",
             "工号,姓名,账号,开户行,联行号,金额,备注"]
    lines += [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def run_payroll(app, content: bytes, origin: str = "payroll-2026-11.csv"):
    return import_payroll(uow=app.uow, channels=app.channels, content=content, origin=origin,
                          actor="user:hr", now=app.now, today=TODAY)


def follow(app) -> None:
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    try:
        assert worker.run_until_idle(timeout_s=20)
    finally:
        worker.close()


def test_each_line_is_paid_from_our_account_at_the_employees_bank_in_its_own_batch(app):
    done = run_payroll(app, payroll_csv(rows_for("E001", "E002", "E003")))
    assert done.created and [line.state.value for line in done.lines] == ["ordered"] * 3
    with app.uow() as unit:
        orders = unit.orders.get_many([line.order_id for line in done.lines])
        batches = {o.batch_id for o in orders}
        debtors = {o.payee.name: o.debtor for o in orders}
        rails = {unit.flows.routes.get(o.id)["rail"] for o in orders}
    assert debtors == {"张伟": "icbc-cny", "李娜": "cmb-cny", "王芳": "boc-cny"}
    assert len(batches) == 3 and all(o.flow is FlowType.PAYROLL for o in orders)
    assert rails == {"book"}  # each paid within its own bank
    follow(app)
    report = payroll_report(uow=app.uow, run_id=done.run.id, roles=PAYROLL)
    assert report.counts() == {"paid": 3} and report.total == "25500.00"


def test_an_account_that_fails_verification_stops_only_that_line(app):
    done = run_payroll(app, payroll_csv(rows_for("E001", "E004", "E005")))
    states = {line.employee_id: (line.state.value, line.reason) for line in done.lines}
    assert states["E004"][0] == "verification_failed"
    assert "account is closed" in (states["E004"][1] or "")
    assert states["E001"][0] == states["E005"][0] == "ordered"
    follow(app)
    report = payroll_report(uow=app.uow, run_id=done.run.id, roles=PAYROLL)
    assert report.counts() == {"paid": 2, "not_sent": 1}


def test_the_same_file_twice_pays_once(app):
    content = payroll_csv(rows_for("E001", "E002"))
    first = run_payroll(app, content)
    again = run_payroll(app, content, origin="renamed.csv")
    assert not again.created and again.run.id == first.run.id
    with app.uow() as unit:
        assert unit.orders.count_by_status() == {"released": 2}


def test_amounts_are_hidden_from_a_viewer_without_the_payroll_role(app):
    done = run_payroll(app, payroll_csv(rows_for("E001")))
    hidden = payroll_report(uow=app.uow, run_id=done.run.id, roles=frozenset({"treasurer"}))
    assert hidden.total is None and hidden.lines[0].amount is None
    shown = payroll_report(uow=app.uow, run_id=done.run.id, roles=PAYROLL)
    assert shown.lines[0].amount == "8500.00"


@pytest.fixture
def own_sandbox(tmp_path) -> Iterator[RunningSandbox]:
    """A sandbox of this test's own (it closes an account)."""
    with running_sandbox(tmp_path / "sandbox") as running:
        yield running


def test_a_returned_line_is_reported_with_the_banks_reason_and_paid_again(store_url,
                                                                           own_sandbox):
    with gateway(store_url, own_sandbox) as app:
        returned_and_paid_again(app, own_sandbox)


def returned_and_paid_again(app, sandbox) -> None:
    done = run_payroll(app, payroll_csv(rows_for("E001", "E006")))
    number = EMPLOYEES["E006"][2]
    sandbox.ledger.close_account(OTHER_BANK, number)  # the card is closed after the check
    follow(app)
    report = payroll_report(uow=app.uow, run_id=done.run.id, roles=PAYROLL)
    returned = {v.employee_id: v for v in report.lines}["E006"]
    assert returned.status is BankStatus.RETURNED and returned.reason.startswith("AC04")
    with pytest.raises(NotReissuable, match="is paid"):
        reissue_line(uow=app.uow, channels=app.channels, run_id=done.run.id,
                     employee_id="E001", actor="user:hr", now=app.now, today=TODAY)
    new_card = card("622202", 1001)  # 杨磊 gives the account he is paid to elsewhere: E001's
    again = reissue_line(uow=app.uow, channels=app.channels, run_id=done.run.id,
                         employee_id="E006", actor="user:hr", now=app.now, today=TODAY,
                         name="张伟", account=AccountNumber.parse(new_card), bank="icbc")
    assert again.attempts == 2 and again.order_id != returned.order_id
    follow(app)
    final = payroll_report(uow=app.uow, run_id=done.run.id, roles=PAYROLL)
    assert final.counts() == {"paid": 2}


def test_an_excel_payroll_is_read_like_a_csv_one():
    book = Workbook()
    sheet = book.active
    for row in (["付款账户", "icbc-cny"], ["工资月份", "2026-11"], ["总笔数", 1],
                ["总金额", 8500.5], [], ["工号", "姓名", "账号", "开户行", "金额"],
                ["E001", "张伟", EMPLOYEES["E001"][2], "icbc", 8500.5]):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    payroll = read_payroll(buffer.getvalue(), "payroll.xlsx")
    assert payroll.total.amount == Decimal("8500.50") and payroll.rows[0].name == "张伟"
    assert payroll.rows[0].remittance == "工资 2026-11"


BAD = [
    (payroll_csv(rows_for("E001"), total="9000.00"),
     "总金额 (total) says 9000.00 CNY, the rows add up to 8500.00 CNY"),
    (payroll_csv(rows_for("E001"), count=2), "总笔数 (count) says 2 rows, the file has 1"),
    (payroll_csv(rows_for("E001", amount="8500.00元")),
     "row 7: field 'amount': '8500.00元' is not"),
    (payroll_csv(rows_for("E001", amount="-5.00")), "row 7: field 'amount'"),
    (payroll_csv(rows_for("E001", "E001")), "row 8: field 'employee_id': E001 is paid twice"),
    (payroll_csv([["E001", "张伟", "6.22202E+18", "icbc", "", "1.00", ""]]),
     "row 7: field 'account': '6.22202E+18' was stored as a number"),
    (payroll_csv([["E001", "", EMPLOYEES["E001"][2], "icbc", "", "1.00", ""]]),
     "row 7: field 'name': must not be empty"),
    (payroll_csv([["E001", "张伟", EMPLOYEES["E001"][2], "ICBC!", "", "1.00", ""]]),
     "row 7: field 'bank'"),
    (payroll_csv([["E001", "张伟", EMPLOYEES["E001"][2], "icbc", "1234", "1.00", ""]]),
     "row 7: field 'branch_code': '1234' is not a CNAPS bank code"),
    (payroll_csv(rows_for("E001"), period="2026-13"), "工资月份 (period): '2026-13'"),
    (payroll_csv(rows_for("E001")).replace("总笔数,1\n".encode(), b""),
     "总笔数 (count) is missing"),
    (payroll_csv(rows_for("E001")).replace("开户行".encode(), b"bank_name"),
     "unknown ['bank_name'], missing ['bank']"),
    (b"\xff\xfe\x00garbage", "is not a control field"),
    ("付款账户,icbc-cny\n".encode(), "no row header"),
    (payroll_csv([]), "the file has no employee rows"),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_every_bad_payroll_file_is_refused_whole_naming_row_and_field(app, content, message):
    with pytest.raises(InvalidPayrollFile) as caught:
        run_payroll(app, content)
    assert message in str(caught.value) and "nothing imported" in str(caught.value)
    with app.uow() as unit:
        assert unit.orders.count_by_status() == {}
        assert unit.flows.payroll.runs() == []


@pytest.mark.parametrize(("debtor", "message"), [
    ("nope-cny", "'nope-cny' is not one of our account ids")])
def test_a_payroll_drawn_on_an_account_we_do_not_hold_is_refused(app, debtor, message):
    with pytest.raises(InvalidPayrollFile, match=message):
        run_payroll(app, payroll_csv(rows_for("E001"), debtor=debtor))


def test_every_problem_of_a_file_is_listed_not_only_the_first():
    rows = rows_for("E001", amount="x") + rows_for("E002", amount="y")
    with pytest.raises(InvalidPayrollFile) as caught:
        read_payroll(payroll_csv(rows, total="1.00"), "p.csv")
    wheres = [where for where, _ in caught.value.problems]
    assert wheres == ["row 7", "row 8"]


def test_under_the_default_policy_payroll_waits_for_approval_and_is_paid_once_released(
        store_url, sandbox):
    """Issue 5's payroll tier: one approval with TOTP and a releaser (services/approvals)."""
    from bankgate.services.demo_controls import act_as_demo_users

    with gateway(store_url, sandbox, policy="default") as app:
        done = run_payroll(app, payroll_csv(rows_for("E001", "E002")))
        waiting = payroll_report(uow=app.uow, run_id=done.run.id, roles=PAYROLL)
        assert waiting.counts() == {"awaiting_approval": 2}
        with app.uow() as unit:
            orders = unit.orders.get_many([line.order_id for line in done.lines])
            assert all(o.batch_id is None for o in orders)  # nothing leaves before approval
        act_as_demo_users(uow=app.uow, sealer=app.sealer, now=app.now, orders=orders)
        follow(app)
        assert payroll_report(uow=app.uow, run_id=done.run.id,
                              roles=PAYROLL).counts() == {"paid": 2}


def test_a_gbk_payroll_file_from_a_chinese_excel_export_is_read():
    content = payroll_csv(rows_for("E001")).decode("utf-8").encode("gbk")
    payroll = read_payroll(content, "工资.csv")
    assert payroll.rows[0].name == "张伟" and payroll.period == "2026-11"


def test_a_file_that_is_not_a_spreadsheet_is_refused_in_one_line():
    with pytest.raises(InvalidPayrollFile, match=r"not a readable \.xlsx"):
        read_payroll(b"PK\x03\x04 not really a zip", "payroll.xlsx")
