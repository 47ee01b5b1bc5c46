"""B-19 at the sandbox bank: orders held for 网银二次确认 until its portal decides."""

from __future__ import annotations

import httpx

from tests.sandbox.conftest import batch, order


def _submit(client: httpx.Client, body: dict) -> httpx.Response:  # type: ignore[type-arg]
    return client.post("/boc/v1/payments/batches", json=body)


def _status(client: httpx.Client, iid: str) -> dict:  # type: ignore[type-arg]
    return client.post("/boc/v1/payments/status", json={"instruction_ids": [iid]}).json()[
        "orders"][0]


def test_b19_a_held_order_debits_nothing_until_confirmed_in_the_portal(sandbox, client):
    line = {**order("boc"), "bank_confirmation": True}
    iid = line["instruction_id"]
    answer = _submit(client, batch("boc", line))
    assert answer.json()["orders"][0]["status"] == "PDNG"  # boc: awaiting confirmation
    assert iid not in sandbox.ledger.debit_bookings()
    sandbox.settle_now()
    assert _status(client, iid)["status"] == "PDNG"  # settlement never touches it
    confirmed = client.post("/_sandbox/portal", json={"bank": "boc", "instruction_id": iid,
                                                      "decision": "confirm"})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "ACCP"
    assert sandbox.ledger.debit_bookings()[iid] == 1
    sandbox.settle_now()
    assert _status(client, iid)["status"] == "ACSC"
    again = client.post("/_sandbox/portal", json={"bank": "boc", "instruction_id": iid,
                                                  "decision": "confirm"})
    assert again.status_code == 409  # only an order awaiting confirmation can be decided


def test_b19_a_refusal_in_the_portal_rejects_with_the_customers_reason(sandbox, client):
    line = {**order("boc"), "bank_confirmation": True}
    _submit(client, batch("boc", line))
    refused = sandbox.refuse_in_portal("boc", line["instruction_id"], "不认识这笔付款")
    assert refused.status.value == "rejected"
    status = _status(client, line["instruction_id"])
    assert (status["status"], status["error_code"]) == ("RJCT", "CUST")
    assert status["error_message"] == "不认识这笔付款"
    assert line["instruction_id"] not in sandbox.ledger.debit_bookings()


def test_b19_bank_confirmation_must_be_a_boolean(sandbox, client):
    answer = _submit(client, batch("boc", {**order("boc"), "bank_confirmation": "yes"}))
    assert answer.status_code == 400
    assert "orders[0].bank_confirmation: expected true or false" in answer.text
