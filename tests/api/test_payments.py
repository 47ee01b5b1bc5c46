"""POST /api/v1/payments: Idempotency-Key (K-01, K-02, L-05), strict input (RELIABILITY 2.5)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api.conftest import a_payment, order_count

KEY = {"Idempotency-Key": "erp-2026-11-23-0001"}


def test_a_payment_is_created_released_and_shown_with_its_history(client, gateway):
    answer = client.post("/api/v1/payments", json=a_payment(), headers=KEY)
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert order["status"] == "released" and order["amount"] == "1200.50"
    assert len(order["instruction_id"]) == 32 and order["payee"]["account"] == "6222****0001"
    shown = client.get(f"/api/v1/payments/{order['id']}").json()
    assert [h["to"] for h in shown["history"]] == ["draft", "pending_approval", "approved",
                                                   "released"]


def test_K02_the_same_key_and_body_replays_the_stored_answer(client, gateway):
    first = client.post("/api/v1/payments", json=a_payment(), headers=KEY)
    again = client.post("/api/v1/payments", json=a_payment(), headers=KEY)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotency-Replayed"] == "true"
    assert order_count(gateway) == 1


def test_K02_a_retry_gets_the_stored_answer_even_when_its_date_has_passed(client, gateway):
    """The stored answer is looked up before the body is checked again."""
    today = gateway.now().astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    first = client.post("/api/v1/payments", json=a_payment(execution_date=today), headers=KEY)
    later = gateway.now() + timedelta(days=3)
    gateway.now = lambda: later
    again = client.post("/api/v1/payments", json=a_payment(execution_date=today), headers=KEY)
    assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])
    fresh = client.post("/api/v1/payments", json=a_payment(execution_date=today),
                        headers={"Idempotency-Key": "new"})
    assert fresh.status_code == 422 and fresh.json()["pointer"] == "/execution_date"
    assert order_count(gateway) == 1


def test_the_same_key_with_another_body_is_refused(client, gateway):
    client.post("/api/v1/payments", json=a_payment(), headers=KEY)
    other = client.post("/api/v1/payments", json=a_payment(amount="99.00"), headers=KEY)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert order_count(gateway) == 1


def test_a_body_that_is_not_an_object_is_refused_at_the_root(client, gateway):
    for body in ([a_payment()], "x", 1):
        answer = client.post("/api/v1/payments", json=body, headers=KEY)
        assert (answer.status_code, answer.json()["pointer"]) == (422, "")
    extra = client.post("/api/v1/payments", json={"payments": [a_payment(status="settled")]},
                        headers=KEY)
    assert extra.status_code == 422 and extra.json()["pointer"] == "/payments/0/status"
    assert order_count(gateway) == 0


def test_K02_a_batch_of_payments_replays_with_the_same_ids(client, gateway):
    body = {"payments": [a_payment(), a_payment(amount="2.00")]}
    first = client.post("/api/v1/payments", json=body, headers=KEY)
    again = client.post("/api/v1/payments", content=json.dumps(body, indent=2).encode(),
                        headers={**KEY, "content-type": "application/json; charset=utf-8"})
    assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert [p["id"] for p in again.json()["payments"]] == [p["id"] for p in
                                                            first.json()["payments"]]
    assert order_count(gateway) == 2


def test_several_payments_are_created_together_or_not_at_all(client, gateway):
    body = {"payments": [a_payment(), a_payment(amount="0.001")]}
    refused = client.post("/api/v1/payments", json=body, headers=KEY)
    assert refused.status_code == 422 and refused.json()["pointer"] == "/payments/1/amount"
    assert order_count(gateway) == 0
    body = {"payments": [a_payment(), a_payment(amount="1.00")]}
    created = client.post("/api/v1/payments", json=body, headers={"Idempotency-Key": "two"})
    assert created.status_code == 201 and len(created.json()["payments"]) == 2


@pytest.mark.parametrize(("change", "pointer"), [
    ({"amount": 12.5}, "/amount"),                     # a JSON number, not a string
    ({"amount": "1e3"}, "/amount"),
    ({"amount": "0.001"}, "/amount"),
    ({"amount": "-5.00"}, "/amount"),
    ({"amount": "0"}, "/amount"),
    ({"amount": "NaN"}, "/amount"),
    ({"amount": "Infinity"}, "/amount"),
    ({"amount": None, "payee_name": "x"}, "/amount"),   # a required field left out
    ({"amount": "1" * 40}, "/amount"),
    ({"debtor_account": "jpy-1", "currency": "JPY", "amount": "100.5"}, "/amount"),
    ({"currency": "cny"}, "/currency"),
    ({"currency": "XXX"}, "/currency"),
    ({"payee_account": "DE89370400440532013001"}, "/payee_account"),
    ({"payee_account": "6222 0202 0000 9000"}, "/payee_account"),
    ({"payee_account": "６２２２０２０２０００９０００００１"}, "/payee_account"),
    ({"payee_account": "62220202000O9000001"}, "/payee_account"),
    ({"payee_name": "evil\u202eexe"}, "/payee_name"),
    ({"payee_name": "bell\x07"}, "/payee_name"),
    ({"payee_name": "x" * 141}, "/payee_name"),
    ({"status": "settled"}, "/status"),
    ({"approved_by": "me"}, "/approved_by"),
    ({"tenant_id": "other"}, "/tenant_id"),
    ({"debtor_account": "nobody"}, "/debtor_account"),
    ({"execution_date": "2020-01-01"}, "/execution_date"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(client, gateway, change,
                                                                     pointer):
    answer = client.post("/api/v1/payments", json=a_payment(**change), headers=KEY)
    assert answer.status_code == 422, answer.text
    assert answer.json()["pointer"] == pointer
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert order_count(gateway) == 0


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    (b'{"amount": "1.00", "amount": "2.00"}', {}, 400, "invalid_json"),
    (b"[" * 50 + b"]" * 50, {}, 400, "invalid_json"),
    (b"[" * 100_000 + b"]" * 100_000, {}, 400, "invalid_json"),  # past the parser stack
    (b'{"a": NaN}', {}, 400, "invalid_json"),
    (b"{not json", {}, 400, "invalid_json"),
    (b"x" * (1024 * 1024 + 10), {}, 413, "payload_too_large"),
    (json.dumps(a_payment()).encode(), {"content-type": "text/plain"}, 415,
     "unsupported_media_type"),
])
def test_malformed_bodies_get_a_clear_refusal(client, gateway, body, headers, status, code):
    answer = client.post("/api/v1/payments", content=body,
                         headers={"content-type": "application/json", **KEY, **headers})
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert order_count(gateway) == 0


@pytest.mark.parametrize("key", [None, "", "has space", "ü".encode() * 3, "k" * 256])
def test_a_missing_or_malformed_idempotency_key_is_refused(client, gateway, key):
    headers = {} if key is None else {"Idempotency-Key": key}
    answer = client.post("/api/v1/payments", json=a_payment(), headers=headers)
    assert answer.status_code == 400 and "Idempotency-Key" in answer.json()["detail"]
    assert order_count(gateway) == 0


def test_L05_concurrent_posts_sharing_keys_create_one_order_per_key(server, gateway, auth):
    """L-05 (scaled): 100 concurrent POSTs over 10 keys → exactly 10 orders, others replay."""
    def post(n: int) -> tuple[int, str]:
        answer = http.post("/api/v1/payments", json=a_payment(remittance=f"K{n % 10}"),
                           headers={"Idempotency-Key": f"burst-{n % 10}"})
        return answer.status_code, answer.json().get("id", "")

    with httpx.Client(base_url=server, timeout=30, headers=auth) as http, \
            ThreadPoolExecutor(20) as pool:
        results = list(pool.map(post, range(100)))
    assert {status for status, _ in results} == {201}  # the twins get the stored answer
    ids = {order_id for status, order_id in results if status == 201}
    assert len(ids) == 10 and order_count(gateway) == 10


def test_no_response_reveals_a_full_account_number(client, gateway):
    """INV-7 / A-17: account numbers are masked in every body."""
    created = client.post("/api/v1/payments", json=a_payment(), headers=KEY).json()
    bodies = [client.get(path).text for path in (
        "/api/v1/accounts", "/api/v1/payments", f"/api/v1/payments/{created['id']}",
        "/openapi.json")]
    for text in bodies:
        assert "6222020200009000001" not in text and "6222020200001000001" not in text
