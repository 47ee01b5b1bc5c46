"""Bank callbacks: duplicates ×10 concurrently → one transition, one audit record (B-09, B-11)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bankgate.domain import Status
from bankgate.services._tx import Changes, in_transaction
from bankgate.services.batching import form_batches
from tests.api.conftest import a_payment

KEY = {"Idempotency-Key": "cb-1"}


@pytest.fixture
def banks(ca_file: str) -> dict[str, Any]:
    """Host-API channels for icbc and boc (never dialled: callbacks come to us)."""
    return {bank: {"kind": "hostapi", "base_url": f"https://127.0.0.1:9/{bank}/v1",
                   "ca_file": ca_file, "dialect": bank} for bank in ("icbc", "boc")}


def _accepted_order(client, gateway) -> dict:
    created = client.post("/api/v1/payments", json=a_payment(), headers=KEY).json()
    form_batches(uow=gateway.uow, now=gateway.now)

    def move(unit):
        order = unit.orders.get(created["id"])
        changes = Changes(at=gateway.now(), actor="test")
        changes.move(changes.move(order, Status.SUBMITTED), Status.ACCEPTED)
        changes.flush(unit)

    in_transaction(gateway.uow, move)
    return created


def _callback(order: dict, status: str = "30") -> bytes:
    return json.dumps({"callback_id": "cb-0001", "bank": "icbc",
                       "instruction_id": order["instruction_id"], "status": status,
                       "error_code": None, "error_message": None,
                       "at": "2026-11-23T08:00:00Z"}).encode()


def test_B09_ten_concurrent_duplicates_make_one_transition_and_one_audit_record(
        client, gateway, server):
    order = _accepted_order(client, gateway)

    def deliver(_: int) -> int:
        with httpx.Client(base_url=server, timeout=30) as http:
            return http.post("/api/v1/callbacks/icbc", content=_callback(order),
                             headers={"content-type": "application/json"}).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(deliver, range(10)))
    assert statuses == [200] * 10  # every duplicate acknowledged
    with gateway.uow() as unit:
        history = unit.audit.for_subject(order["id"])
        assert unit.orders.get(order["id"]).status is Status.SETTLED
    settled = [h for h in history if h["to_status"] == "settled"]
    assert len(settled) == 1 and settled[0]["actor"] == "bank:icbc"


def test_B10_a_late_accepted_after_settled_changes_nothing(client, gateway):
    order = _accepted_order(client, gateway)
    assert client.post("/api/v1/callbacks/icbc", content=_callback(order, "30"),
                       headers={"content-type": "application/json"}).json()["moved"] == 1
    late = client.post("/api/v1/callbacks/icbc", content=_callback(order, "20"),
                       headers={"content-type": "application/json"})
    assert late.status_code == 200 and late.json() == {"ok": True, "moved": 0, "ignored": True}


def test_B11_a_callback_for_an_unknown_order_changes_nothing_and_is_audited(client, gateway):
    stranger = {"instruction_id": "0000000000000000000000000000dead"}
    answer = client.post("/api/v1/callbacks/icbc", content=_callback(stranger),
                         headers={"content-type": "application/json"})
    assert answer.status_code == 200 and answer.json()["ignored"] is True
    with gateway.uow() as unit:
        assert unit.audit.count("callback.refused") == 1


def test_malformed_callbacks_and_unknown_banks_are_refused(client, gateway):
    bad = client.post("/api/v1/callbacks/icbc", content=b"{nope",
                      headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_callback"
    assert client.post("/api/v1/callbacks/nobank", content=b"{}").status_code == 404


def test_B11_another_banks_callback_for_our_order_changes_nothing_and_is_audited(client,
                                                                              gateway):
    order = _accepted_order(client, gateway)
    forged = json.dumps({"callback_id": "boc-1", "bank": "boc",
                         "instruction_id": order["instruction_id"], "status": "ACSC",
                         "error_code": None, "error_message": None,
                         "at": "2026-11-23T08:00:00Z"}).encode()
    answer = client.post("/api/v1/callbacks/boc", content=forged,
                         headers={"content-type": "application/json"})
    assert answer.status_code == 200 and answer.json() == {"ok": True, "moved": 0,
                                                           "ignored": True}
    with gateway.uow() as unit:
        assert unit.orders.get(order["id"]).status is Status.ACCEPTED
        assert unit.audit.count("callback.refused") == 1


def test_a_callback_naming_another_bank_or_not_an_object_is_refused(client, gateway):
    order = _accepted_order(client, gateway)
    for body in (_callback(order).replace(b'"icbc"', b'"boc"'), b"[]", b'"x"',
                 b'{"callback_id": "c"}'):
        answer = client.post("/api/v1/callbacks/icbc", content=body,
                             headers={"content-type": "application/json"})
        assert answer.status_code == 400, body
    with gateway.uow() as unit:
        assert unit.orders.get(order["id"]).status is Status.ACCEPTED
