"""The flows' REST API (issue 7): claims, payroll, transfers, routes and receipts over HTTP."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.sandbox.run import RunningSandbox
from bankgate.services.worker import Worker
from tests.control_world import signed_in as token
from tests.flows_world import EMPLOYEES, gateway, running_sandbox
from tests.services.test_claims import a_line
from tests.services.test_payroll import payroll_csv, rows_for


def bank_day():
    """The sandbox bank's day (Shanghai), read when used: a module constant went stale for
    tests run after 16:00 UTC in a session begun before."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()
CSV = "text/csv"


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


@pytest.fixture
def maker(app) -> dict[str, str]:
    return token(app, "cashier", "maker")


def employee(client, headers, who: str = "E001", **extra) -> None:
    name, bank, number, _ = EMPLOYEES[who]
    answer = client.post("/api/v1/employees", headers=headers, json={
        "id": who, "name": name, "department": "研发部", "bank": bank, "account": number,
        **extra})
    assert answer.status_code == 200 and number not in answer.text  # masked (INV-7)


def a_claim(**extra):
    return {"employee_id": "E001", "title": "出差", "lines": [a_line()], **extra}


def test_a_claim_is_submitted_once_per_key_and_its_invoice_only_once_at_all(client, maker):
    employee(client, maker)
    body = a_claim(attachments=[{"name": "发票.pdf",
                                 "content_base64": base64.b64encode(b"%PDF-1.4").decode()}])
    first = client.post("/api/v1/claims", json=body, headers={**maker, "Idempotency-Key": "c-1"})
    again = client.post("/api/v1/claims", json=body, headers={**maker, "Idempotency-Key": "c-1"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotency-Replayed"] == "true"
    other = client.post("/api/v1/claims", json=body, headers={**maker, "Idempotency-Key": "c-2"})
    assert other.status_code == 409 and other.json()["code"] == "duplicate_invoice"
    assert client.post("/api/v1/claims", json=body, headers=maker).status_code == 400  # no key
    assert client.post("/api/v1/claims", json=body).status_code == 401  # nobody
    assert [c["id"] for c in client.get("/api/v1/claims", headers=maker).json()["claims"]] == [
        first.json()["id"]]


def test_a_bad_claim_is_a_422_naming_the_line_and_field(client, maker):
    employee(client, maker)
    answer = client.post("/api/v1/claims", json=a_claim(lines=[a_line("600.00")]),
                         headers={**maker, "Idempotency-Key": "bad-1"})
    assert answer.status_code == 422 and "line 1: claims 600.00 CNY" in answer.json()["detail"]
    bad_file = client.post("/api/v1/claims", headers={**maker, "Idempotency-Key": "bad-2"}, json={
        **a_claim(), "attachments": [{"name": "x", "content_base64": "%%%"}]})
    assert bad_file.status_code == 422 and bad_file.json()["pointer"] == \
        "/attachments/0/content_base64"


def test_approving_needs_a_signed_in_user_with_the_steps_role(client, app, maker):
    employee(client, maker, username="zhangwei")  # 张伟 is also an approver
    claim = client.post("/api/v1/claims", json=a_claim(),
                        headers={**maker, "Idempotency-Key": "k"}).json()
    path = f"/api/v1/claims/{claim['id']}/approve"
    assert client.post(path, json={"approved": True}).status_code == 401
    assert client.post(path, json={"approved": True}, headers=maker).status_code == 403
    finance = token(app, "cfo", "treasurer_admin")  # may approve, but not the manager step
    refused = client.post(path, json={"approved": True}, headers=finance)
    assert refused.status_code == 403 and "needs one of the roles approver" in refused.text
    claimant = token(app, "zhangwei", "approver")
    own = client.post(path, json={"approved": True}, headers=claimant)
    assert own.status_code == 403 and "cannot approve their own claim" in own.text
    manager = token(app, "anna", "approver")
    done = client.post(path, json={"approved": True, "note": "ok"}, headers=manager)
    assert done.status_code == 200 and done.json()["state"] == "approved"
    assert done.json()["approvals"][0]["actor"] == "user:anna"


def test_payroll_amounts_are_shown_only_to_the_payroll_role(client, app):
    hr = token(app, "hr", "payroll")
    content = payroll_csv(rows_for("E001", "E002"))
    made = client.post("/api/v1/payroll", content=content, headers={**hr, "Content-Type": CSV})
    assert made.status_code == 201 and made.json()["total"] == "17000.00"
    again = client.post("/api/v1/payroll", content=content, headers={**hr, "Content-Type": CSV})
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    auditor = token(app, "audit", "auditor")
    hidden = client.get(f"/api/v1/payroll/{made.json()['id']}", headers=auditor).json()
    assert hidden["total"] is None and {e["amount"] for e in hidden["employees"]} == {None}
    assert client.get(f"/api/v1/payroll/{made.json()['id']}").status_code == 401
    shown = client.get(f"/api/v1/payroll/{made.json()['id']}", headers=hr).json()
    assert [e["amount"] for e in shown["employees"]] == ["8500.00", "8500.00"]


def test_a_bad_payroll_file_is_a_422_naming_the_row(client, app):
    hr = token(app, "hr", "payroll")
    answer = client.post("/api/v1/payroll", content=payroll_csv(rows_for("E001"), total="1.00"),
                         headers={**hr, "Content-Type": CSV})
    assert answer.status_code == 422 and "总金额 (total) says 1.00 CNY" in answer.json()["detail"]
    assert client.post("/api/v1/payroll", content=b"x", headers={
        **hr, "Content-Type": "text/plain"}).status_code == 415


def test_a_transfer_its_route_and_its_receipts_over_http(client, app):
    treasurer = token(app, "tre", "treasurer_admin")
    made = client.post("/api/v1/transfers", headers=treasurer,
                       json={"from": "cmb-cny", "to": "icbc-cny", "amount": "1000.00"})
    assert made.status_code == 201 and made.json()["state"] == "ordered"
    route = client.get(f"/api/v1/payments/{made.json()['order_id']}/route",
                       headers=treasurer).json()
    assert route["urgent"] and route["rail"] in ("ibps", "hvps") and route["explanation"]
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    try:
        assert worker.run_until_idle(timeout_s=20)
    finally:
        worker.close()
    fetched = client.post(f"/api/v1/receipts/fetch?date={bank_day()}", headers=treasurer).json()
    assert fetched["new"] >= 2 and fetched["problems"] == []
    listed = client.get(f"/api/v1/receipts?date={bank_day()}",
                        headers=treasurer).json()["receipts"]
    mine = [r for r in listed if r["order_id"] == made.json()["order_id"]]
    assert sorted(r["amount"] for r in mine) == ["-1000.00", "1000.00"]  # both legs
    pdf = client.get(f"/api/v1/receipts/{mine[0]['id']}.pdf", headers=treasurer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-1.4")
    archive = client.get(f"/api/v1/receipts/archive?date={bank_day()}", headers=treasurer)
    assert "manifest.csv" in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert client.get("/api/v1/receipts/missing?days=0",
                      headers=treasurer).json()["payments"] == []


@pytest.mark.parametrize(("body", "status"), [
    ({"from": "cmb-cny", "to": "cmb-cny", "amount": "1.00"}, 422),
    ({"from": "cmb-cny", "to": "icbc-cny", "amount": 1.0}, 422),
    ({"from": "cmb-cny", "to": "nope", "amount": "1.00"}, 404),
    ({"from": "cmb-cny", "to": "icbc-cny", "amount": "1.00", "extra": 1}, 422),
])
def test_a_bad_transfer_request_is_refused_with_a_clear_problem(client, app, body, status):
    treasurer = token(app, "tre", "treasurer_admin")
    answer = client.post("/api/v1/transfers", headers=treasurer, json=body)
    assert answer.status_code == status and answer.json()["detail"]
    assert client.post("/api/v1/sweeps", headers=treasurer, json={"rule": []}).status_code == 422
