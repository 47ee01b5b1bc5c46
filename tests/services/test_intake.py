"""Payment files and order requests: clear errors naming row and field; all or nothing."""

from __future__ import annotations

import json

import pytest

from bankgate.services.intake import (
    InvalidOrderFile,
    InvalidOrderInput,
    parse_order,
    read_order_file,
)
from tests.builders import TODAY, an_account

ACCOUNTS = {"acc-icbc": an_account()}
HEADER = "debtor_account,payee_name,payee_account,payee_bank,amount,currency,remittance\n"
GOOD = "acc-icbc,上海某某贸易有限公司,6222020200009000001,icbc,1200.00,CNY,INV-1\n"


def _request(**overrides):
    data = {
        "debtor_account": "acc-icbc",
        "payee_name": "张三",
        "payee_account": "6222020200009000001",
        "payee_bank": "cmb",
        "amount": "88.80",
        "currency": "CNY",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_good_request_becomes_a_draft_for_today():
    draft = parse_order(_request(), where="/", accounts=ACCOUNTS, today=TODAY)
    assert str(draft.amount) == "88.80 CNY" and draft.execution_date == TODAY
    assert draft.payee.bank == "cmb" and draft.flow.value == "supplier"


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"amount": "0.001"}, "amount", "more decimals than CNY allows"),
        ({"amount": 12.5}, "amount", "expected text"),
        ({"amount": None}, "amount", "is required"),
        ({"currency": "cny"}, "currency", "not a supported ISO 4217"),
        ({"currency": "EUR"}, "currency", "differs from the debtor account's currency CNY"),
        ({"amount": "0.00"}, "amount", "greater than zero"),
        ({"amount": "-5.00"}, "amount", "greater than zero"),
        ({"payee_account": "6222 0202"}, "payee_account", "neither an IBAN"),
        ({"payee_name": "a\u202eb"}, "payee_name", "control or formatting"),
        ({"debtor_account": "acc-nope"}, "debtor_account", "not one of our accounts"),
        ({"execution_date": "2026-11-22"}, "execution_date", "in the past"),
        ({"execution_date": "23/11/2026"}, "execution_date", "not a date"),
        ({"flow": "bribe"}, "flow", "is not one of"),
        ({"status": "released"}, "status", "is not a field"),
        ({"approved_by": "me"}, "approved_by", "is not a field"),
        ({"instruction_id": "has space"}, "instruction_id", "letters, digits"),
    ],
)
def test_bad_requests_name_the_field_and_the_problem(overrides, field, says):
    with pytest.raises(InvalidOrderInput) as err:
        parse_order(_request(**overrides), where="row 3", accounts=ACCOUNTS, today=TODAY)
    assert err.value.field == field and err.value.where == "row 3"
    assert says in str(err.value) and str(err.value).startswith("row 3, field")


def test_a_csv_file_is_read_whole():
    drafts = read_order_file(
        (HEADER + GOOD * 3).encode(), origin="pay.csv", accounts=ACCOUNTS, today=TODAY
    )
    assert len(drafts) == 3 and drafts[1].where == "row 3"


def test_a_gb18030_csv_file_is_read_too():
    drafts = read_order_file(
        (HEADER + GOOD).encode("gb18030"), origin="pay.csv", accounts=ACCOUNTS, today=TODAY
    )
    assert drafts[0].payee.name == "上海某某贸易有限公司"


def test_a_csv_with_broken_rows_is_refused_whole_naming_every_bad_row():
    content = (
        HEADER
        + GOOD
        + "acc-icbc,李四,6222020200009000002,icbc,12.345,CNY,x\n"
        + GOOD
        + "acc-icbc,王五,6222020200009000003\n"
    )
    with pytest.raises(InvalidOrderFile) as err:
        read_order_file(content.encode(), origin="pay.csv", accounts=ACCOUNTS, today=TODAY)
    assert [(e.where, e.field) for e in err.value.errors] == [("row 3", "amount"), ("row 5", "row")]
    assert "pay.csv: 2 bad row(s)" in str(err.value) and "nothing imported" in str(err.value)


def test_a_json_file_with_a_bad_item_points_at_it():
    items = [_request(), _request(amount="-5.00")]
    with pytest.raises(InvalidOrderFile) as err:
        read_order_file(
            json.dumps({"payments": items}).encode(),
            origin="p.json",
            accounts=ACCOUNTS,
            today=TODAY,
        )
    [only] = err.value.errors
    assert only.where == "/payments/1" and only.field == "amount"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty file"),
        (b'{"payments": 5}', "expected a list"),
        (b"[1, 2", "json"),
        (b"\xff\xfe\x00garbage\x81", "row"),
    ],
)
def test_files_that_are_not_payment_files_are_refused_clearly(content, says):
    with pytest.raises(InvalidOrderFile) as err:
        read_order_file(content, origin="x", accounts=ACCOUNTS, today=TODAY)
    assert says in str(err.value)
