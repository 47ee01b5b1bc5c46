"""Payroll amounts only for the payroll role (issue 7), on every view of orders and batches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.sandbox.run import RunningSandbox
from tests.api.test_flows import CSV
from tests.control_world import signed_in as token
from tests.flows_world import gateway, running_sandbox
from tests.services.test_payroll import payroll_csv, rows_for


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
def app(store_url, sandbox):
    with gateway(store_url, sandbox) as application:
        yield application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as http:
        yield http


def supplier_payment(client, maker) -> dict:
    answer = client.post("/api/v1/payments", headers={**maker, "Idempotency-Key": "sup-1"}, json={
        "debtor_account": "icbc-cny", "payee_name": "上海供应商有限公司",
        "payee_account": "6222020000000099990", "payee_bank": "icbc", "amount": "1234.50",
        "currency": "CNY", "flow": "supplier"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_payroll_orders_and_their_batch_totals_are_hidden_from_a_maker_and_an_auditor(
        client, app):
    hr = token(app, "hr", "payroll")
    made = client.post("/api/v1/payroll", content=payroll_csv(rows_for("E001", "E002")),
                       headers={**hr, "Content-Type": CSV})
    assert made.status_code == 201, made.text
    maker = token(app, "cashier", "maker")
    supplier = supplier_payment(client, maker)
    assert supplier["amount"] == "1234.50" and supplier["amount_hidden"] is False

    for who in (maker, token(app, "audit", "auditor")):
        listed = client.get("/api/v1/payments", headers=who).json()["payments"]
        payroll = [p for p in listed if p["flow"] == "payroll"]
        assert len(payroll) == 2 and all(p["amount"] is None and p["amount_hidden"]
                                         for p in payroll)
        assert "8500.00" not in client.get("/api/v1/payments", headers=who).text
        other = next(p for p in listed if p["id"] == supplier["id"])
        assert other["amount"] == "1234.50" and other["amount_hidden"] is False
        one = client.get(f"/api/v1/payments/{payroll[0]['id']}", headers=who).json()
        assert one["amount"] is None and one["amount_hidden"] and one["history"]
        batch_id = payroll[0]["batch_id"]
        assert batch_id  # straight-through payroll is batched at once
        batches = {b["id"]: b for b in client.get("/api/v1/batches", headers=who).json()["batches"]}
        assert batches[batch_id]["total"] is None and batches[batch_id]["total_hidden"]
        detail = client.get(f"/api/v1/batches/{batch_id}", headers=who)
        assert detail.json()["total"] is None and "8500.00" not in detail.text
        assert {p["amount"] for p in detail.json()["payments"]} == {None}


def test_the_payroll_role_sees_payroll_amounts_and_batch_totals(client, app):
    hr = token(app, "hr", "payroll")
    made = client.post("/api/v1/payroll", content=payroll_csv(rows_for("E001", "E002")),
                       headers={**hr, "Content-Type": CSV})
    assert made.status_code == 201, made.text
    listed = client.get("/api/v1/payments", headers=hr).json()["payments"]
    payroll = [p for p in listed if p["flow"] == "payroll"]
    assert [p["amount"] for p in payroll] == ["8500.00", "8500.00"]
    assert not any(p["amount_hidden"] for p in payroll)
    assert client.get(f"/api/v1/payments/{payroll[0]['id']}", headers=hr).json()["amount"] == \
        "8500.00"
    batch = client.get(f"/api/v1/batches/{payroll[0]['batch_id']}", headers=hr).json()
    assert batch["total_hidden"] is False and batch["total"] is not None
    assert {p["amount"] for p in batch["payments"]} == {"8500.00"}


def test_the_payroll_role_imports_payroll_but_makes_no_other_payment_and_a_maker_no_payroll(
        client, app):
    """A-08: each role its own meaning (docs/policy.md, Roles): 代发 is payroll files only."""
    hr = token(app, "hr", "payroll")
    refused = client.post("/api/v1/payments", headers={**hr, "Idempotency-Key": "hr-1"}, json={
        "debtor_account": "icbc-cny", "payee_name": "上海某某贸易有限公司",
        "payee_account": "6222020200009000001", "payee_bank": "icbc", "amount": "1234.50",
        "currency": "CNY", "flow": "supplier"})
    assert refused.status_code == 403 and "needs payments:create" in refused.json()["detail"]
    maker = token(app, "cashier", "maker")
    payroll = client.post("/api/v1/payroll", content=payroll_csv(rows_for("E001")),
                          headers={**maker, "Content-Type": CSV})
    assert payroll.status_code == 403 and "needs payroll:create" in payroll.json()["detail"]
    made = client.post("/api/v1/payroll", content=payroll_csv(rows_for("E001")),
                       headers={**hr, "Content-Type": CSV})
    assert made.status_code == 201, made.text
    order_id = next(p["id"] for p in client.get("/api/v1/payments", headers=hr).json()[
        "payments"] if p["flow"] == "payroll")
    cancel = client.post(f"/api/v1/payments/{order_id}/cancel", headers=hr)
    assert cancel.status_code == 403


def test_A08_a_maker_cannot_file_a_payment_as_payroll_to_hide_its_amount(client, app):
    """A payroll order's amount is hidden from everyone without the payroll role, approvers
    included; a maker posting `flow: payroll` is refused (403, naming the field), nothing is
    stored, and the same body as `supplier` goes through."""
    maker = token(app, "cashier", "maker")
    body = {"debtor_account": "icbc-cny", "payee_name": "张伟",
            "payee_account": "6222020000000099990", "payee_bank": "icbc", "amount": "48000.00",
            "currency": "CNY", "flow": "payroll"}
    refused = client.post("/api/v1/payments", headers={**maker, "Idempotency-Key": "pr-1"},
                          json=body)
    assert refused.status_code == 403 and "/flow" in refused.json()["detail"]
    assert "payroll:create" in refused.json()["detail"]
    assert client.get("/api/v1/payments", headers=maker).json()["payments"] == []
    supplier = client.post("/api/v1/payments", headers={**maker, "Idempotency-Key": "pr-2"},
                           json={**body, "flow": "supplier"})
    assert supplier.status_code == 201, supplier.text
