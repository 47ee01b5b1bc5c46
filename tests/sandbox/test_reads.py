"""Balances, transactions and statements of the sandbox banks over real HTTPS."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from bankgate.sandbox.dialects import DIALECTS
from bankgate.sandbox.ledger import SHANGHAI
from tests.sandbox.conftest import ACCOUNTS, OPENING, batch, order
from tests.signing import GatewaySigning


def _today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


def test_balances_come_in_request_order_with_ledger_and_available(post):
    answer = post("icbc", "/balances", {"accounts": [ACCOUNTS["icbc"][1], ACCOUNTS["icbc"][0]]})
    assert answer.status_code == 200
    lines = answer.json()["balances"]
    assert [line["account"] for line in lines] == [ACCOUNTS["icbc"][1], ACCOUNTS["icbc"][0]]
    assert lines[1]["ledger"] == lines[1]["available"] == OPENING["icbc"]
    assert lines[0]["currency"] == "CNY" and lines[0]["as_of"].endswith("Z")


@pytest.mark.parametrize("bank", sorted(DIALECTS))
def test_a_balance_of_an_account_the_bank_does_not_hold_is_422_unknown_debtor(post, bank):
    answer = post(bank, "/balances", {"accounts": [ACCOUNTS[bank][0], "999999999"]})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == DIALECTS[bank].errors["unknown_debtor"]
    assert "accounts[1]" in error["message"] and "999999999" in error["message"]


def test_transactions_and_statement_add_up_opening_plus_entries_to_closing(
        post, client, sandbox):
    bank = "icbc"
    assert post(bank, "/payments/batches", batch(bank, order("icbc", amount="12.50"),
                                                 order("cmb", amount="7.25"))).status_code == 200
    sandbox.settle_now()
    company = ACCOUNTS[bank][0]
    today = _today()
    entries = client.get(f"/{bank}/v1/accounts/{company}/transactions",
                         params={"from": today, "to": today}).json()["entries"]
    assert [e["amount"] for e in entries] == ["-12.50", "-7.25"]
    assert entries[0]["serial"].startswith("ICBC" + today.replace("-", ""))
    assert len({e["serial"] for e in entries}) == 2
    assert entries[-1]["balance_after"] == f"{Decimal(OPENING[bank]) - Decimal('19.75'):f}"
    statement = client.get(f"/{bank}/v1/accounts/{company}/statement",
                           params={"date": today}).json()
    total = sum(Decimal(e["amount"]) for e in statement["entries"])
    assert Decimal(statement["opening"]) + total == Decimal(statement["closing"])
    assert statement["opening"] == OPENING[bank]
    payee = client.get(f"/{bank}/v1/accounts/{ACCOUNTS[bank][1]}/statement",
                       params={"date": today}).json()
    assert [e["amount"] for e in payee["entries"]] == ["12.50"]
    assert payee["entries"][0]["counterparty_account"] == company


def test_a_statement_of_another_day_has_no_entries_and_the_day_before_has_the_opening(
        post, client, sandbox):
    post("icbc", "/payments/batches", batch("icbc", order("icbc", amount="1.00")))
    company = ACCOUNTS["icbc"][0]
    tomorrow = (datetime.now(SHANGHAI).date() + timedelta(days=1)).isoformat()
    later = client.get(f"/icbc/v1/accounts/{company}/statement", params={"date": tomorrow})
    assert later.json()["entries"] == []
    assert later.json()["opening"] == later.json()["closing"] == "999999.00"


def test_an_unknown_account_in_the_path_is_404(client):
    answer = client.get("/cmb/v1/accounts/123456789/transactions",
                        params={"from": "2026-01-01", "to": "2026-01-02"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "PAYER_NOT_EXIST"


def test_unknown_endpoints_and_banks_are_404(client):
    assert client.get("/icbc/v1/nothing").status_code == 404
    assert client.get("/nobank/v1/balances").json()["error"]["code"] == "not_found"


def test_a_missing_or_reversed_date_range_is_400_naming_the_parameter(client):
    company = ACCOUNTS["boc"][0]
    missing = client.get(f"/boc/v1/accounts/{company}/transactions", params={"from": "2026-01-01"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "FF01"
    assert "to" in missing.json()["error"]["message"]
    reversed_ = client.get(f"/boc/v1/accounts/{company}/transactions",
                           params={"from": "2026-02-01", "to": "2026-01-01"})
    assert reversed_.status_code == 400
    bad = client.get(f"/boc/v1/accounts/{company}/statement", params={"date": "2026-02-30"})
    assert bad.status_code == 400 and "date" in bad.json()["error"]["message"]


def test_the_request_id_is_echoed(client):
    answer = client.post("/icbc/v1/balances", json={"accounts": [ACCOUNTS["icbc"][0]]},
                         headers={"X-Request-Id": "req-42"})
    assert answer.headers["X-Request-Id"] == "req-42"


def test_the_clock_offset_shifts_the_banks_time(client, post, sandbox):
    client.post("/_sandbox/clock", json={"offset_s": 86400 * 3, "bank": "cmb"})
    skewed = post("cmb", "/balances", {"accounts": [ACCOUNTS["cmb"][0]]})
    assert (skewed.status_code, skewed.json()["error"]["code"]) == (401, "AUTH_CLOCK_SKEW")
    client.auth = GatewaySigning(sandbox.keys, clock_offset_s=86400 * 3)  # clocks agree
    as_of = post("cmb", "/balances", {"accounts": [ACCOUNTS["cmb"][0]]}).json()
    shifted = datetime.fromisoformat(as_of["balances"][0]["as_of"])
    assert shifted - datetime.now(shifted.tzinfo) > timedelta(days=2, hours=23)
    client.auth = GatewaySigning(sandbox.keys)
    other = post("boc", "/balances", {"accounts": [ACCOUNTS["boc"][0]]}).json()
    assert datetime.fromisoformat(other["balances"][0]["as_of"]) < shifted
