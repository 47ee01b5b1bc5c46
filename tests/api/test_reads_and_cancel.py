"""Reads (orders, batches, accounts, balances, health), cancel, and the one error mapping."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bankgate import __version__
from bankgate.api import create_app
from bankgate.bootstrap import build_app
from bankgate.errors import BankUnavailable
from bankgate.services import queries
from bankgate.services.batching import form_batches
from bankgate.settings import Settings
from tests.api.conftest import ACCOUNTS, a_payment, erp_headers, order_count

FULL_NUMBERS = re.compile("|".join([a["number"] for a in ACCOUNTS] + [
    "6222020200009000001", "62220202000O9000001"]))  # INV-7: none may appear in any body


def _create(client, key: str = "k-1", **changes) -> dict:
    answer = client.post("/api/v1/payments", json=a_payment(**changes),
                         headers={"Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_an_order_is_read_with_its_history_and_an_unknown_one_is_404(client, gateway):
    order = _create(client)
    shown = client.get(f"/api/v1/payments/{order['id']}").json()
    assert shown["id"] == order["id"] and shown["instruction_id"] == order["instruction_id"]
    first, *_, last = shown["history"]
    assert (first["from"], first["to"]) == (None, "draft")
    assert first["actor"].startswith("client:erp-")  # the authenticated ERP client (issue 5)
    assert last["to"] == "released" and set(last) >= {"at", "actor", "from", "to", "reason"}
    missing = client.get("/api/v1/payments/po_nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json() | {"detail": ""} == {"type": "https://bankgate.dev/problems/not_found",
                                               "title": "Not Found", "status": 404,
                                               "code": "not_found", "detail": ""}


def test_orders_are_listed_by_status_and_batch_with_a_bounded_limit(client, gateway):
    ids = [_create(client, f"k-{n}", remittance=f"R{n}")["id"] for n in range(3)]
    client.post(f"/api/v1/payments/{ids[0]}/cancel")
    listed = client.get("/api/v1/payments", params={"limit": 2}).json()
    assert [p["id"] for p in listed["payments"]] == ids[::-1][:2]
    assert listed["limit"] == 2 and listed["offset"] == 0
    paged = client.get("/api/v1/payments", params={"limit": 2, "offset": 2}).json()
    assert [p["id"] for p in paged["payments"]] == [ids[0]]
    cancelled = client.get("/api/v1/payments", params={"status": "cancelled"}).json()
    assert [p["id"] for p in cancelled["payments"]] == [ids[0]]
    assert client.get("/api/v1/payments", params={"batch_id": "b_none"}).json()["payments"] == []
    for bad, pointer in (({"limit": 501}, "/limit"), ({"limit": 0}, "/limit"),
                         ({"offset": -1}, "/offset"), ({"status": "paid"}, "/status")):
        refused = client.get("/api/v1/payments", params=bad)
        assert (refused.status_code, refused.json()["pointer"]) == (422, pointer)


def test_cancel_once_then_409_and_a_keyed_retry_replays(client, gateway):
    order = _create(client)
    cancelled = client.post(f"/api/v1/payments/{order['id']}/cancel",
                            headers={"Idempotency-Key": "cancel-1"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert "Idempotency-Replayed" not in cancelled.headers
    retry = client.post(f"/api/v1/payments/{order['id']}/cancel",
                        headers={"Idempotency-Key": "cancel-1"})
    assert retry.status_code == 200 and retry.headers["Idempotency-Replayed"] == "true"
    again = client.post(f"/api/v1/payments/{order['id']}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    bad_key = client.post(f"/api/v1/payments/{order['id']}/cancel",
                          headers={"Idempotency-Key": "has space"})
    assert bad_key.status_code == 400 and "Idempotency-Key" in bad_key.json()["detail"]
    assert client.post("/api/v1/payments/po_nope/cancel").status_code == 404
    with gateway.uow() as unit:
        assert [h["to_status"] for h in unit.audit.for_subject(order["id"])].count(
            "cancelled") == 1


def test_a_batched_order_is_not_cancellable_and_batches_show_their_orders(client, gateway):
    order = _create(client)
    form_batches(uow=gateway.uow, now=gateway.now)
    refused = client.post(f"/api/v1/payments/{order['id']}/cancel")
    assert refused.status_code == 409 and "batch" in refused.json()["detail"]
    assert client.get(f"/api/v1/payments/{order['id']}").json()["status"] == "released"
    (batch,) = client.get("/api/v1/batches").json()["batches"]
    assert (batch["bank"], batch["orders"], batch["total"]) == ("icbc", 1, "1200.50")
    shown = client.get(f"/api/v1/batches/{batch['id']}").json()
    assert [(p["id"], p["status"]) for p in shown["payments"]] == [(order["id"], "released")]
    assert client.get("/api/v1/payments", params={"batch_id": batch["id"]}).json()[
        "payments"][0]["id"] == order["id"]
    assert client.get("/api/v1/batches/b_nope").status_code == 404
    assert client.get("/api/v1/batches", params={"limit": 501}).status_code == 422


def test_accounts_and_balances_show_masked_numbers_and_name_a_missing_channel(store_url):
    """INV-7; with no bank channel each account carries its error, totals stay empty."""
    app = build_app(Settings(db_url=store_url), {"accounts": ACCOUNTS, "banks": {}})
    try:
        with TestClient(create_app(app), headers=erp_headers(app)) as client:
            accounts = client.get("/api/v1/accounts")
            balances = client.get("/api/v1/balances")
    finally:
        app.close()
    assert {a["number"] for a in accounts.json()["accounts"]} == {
        "6222****0001", "6222****0099", "4563****5678"}
    shown = balances.json()
    assert balances.status_code == 200 and shown["totals"] == {}
    assert {b["account"] for b in shown["balances"]} == {"6222****0001", "6222****0099",
                                                         "4563****5678"}
    assert all(b["error"] and b["ledger"] is None for b in shown["balances"])
    for text in (accounts.text, balances.text):
        assert not FULL_NUMBERS.search(text)


def test_health_jobs_and_openapi(client, gateway):
    assert client.get("/healthz").json()["ok"] is True
    _create(client)
    assert client.get("/api/v1/jobs/summary").json()["jobs"].get("queued", 0) >= 1
    spec = client.get("/openapi.json").json()
    assert (spec["info"]["title"], spec["info"]["version"]) == ("bankgate", __version__)
    assert {"/api/v1/payments", "/api/v1/payments/{order_id}/cancel", "/api/v1/balances",
            "/api/v1/callbacks/{bank}", "/api/v1/batches/{batch_id}"} <= set(spec["paths"])


def test_a_bug_is_a_bare_500_and_a_bank_failure_a_502(gateway, auth, monkeypatch):
    """No traceback, no secret in the body (the log has them)."""
    def broken(**_: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/secret")

    def bank_down(**_: object) -> None:
        raise BankUnavailable("icbc: connection refused")

    with TestClient(create_app(gateway), raise_server_exceptions=False,
                    headers=auth) as client:
        monkeypatch.setattr(queries, "orders", broken)
        bug = client.get("/api/v1/payments")
        monkeypatch.setattr(queries, "orders", bank_down)
        bank = client.get("/api/v1/payments")
    assert bug.status_code == 500 and bug.json()["code"] == "internal_error"
    assert "hunter2" not in bug.text and "Traceback" not in bug.text
    assert bank.status_code == 502 and bank.json()["code"] == "bank_unavailable"


def test_INV7_no_response_carries_a_full_account_number(client, gateway):
    """INV-7 / A-17: every body of every read, refusal and the spec, grepped."""
    order = _create(client)
    form_batches(uow=gateway.uow, now=gateway.now)
    batch_id = client.get("/api/v1/batches").json()["batches"][0]["id"]
    texts = [client.get(path).text for path in (
        "/api/v1/accounts", "/api/v1/payments", f"/api/v1/payments/{order['id']}",
        "/api/v1/batches", f"/api/v1/batches/{batch_id}", "/openapi.json")]
    for refused in ({"debtor_account": "6222020200001000001"},
                    {"payee_account": "62220202000O9000001"}):
        texts.append(client.post("/api/v1/payments", json=a_payment(**refused),
                                 headers={"Idempotency-Key": "inv7"}).text)
    for text in texts:
        assert not FULL_NUMBERS.search(text), text[:300]
    assert order_count(gateway) == 1


@pytest.mark.parametrize("path", ["/api/v1/payments/x/cancel", "/api/v1/payments"])
def test_unknown_methods_and_paths_are_problems_too(client, gateway, path):
    answer = client.put(path, json={})
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith("application/problem+json")
