"""The reconciliation API: match rate as a percentage, exceptions with age, decisions audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.services.sync import sync_accounts
from tests.control_world import signed_in as person
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import bank_today, pay, sound_payees


def test_a_person_undoes_and_redoes_a_match_over_the_api(gateway, sandbox, payees):
    pay(gateway, sound_payees(payees, 1))
    sync_accounts(uow=gateway.uow, channels=gateway.channels, now=gateway.now,
                  config=gateway.finance.sync, through=bank_today())
    with TestClient(create_app(gateway), headers=person(gateway, "alice", "maker")) as client:
        assert client.post("/api/v1/recon/runs").json()["confirmed"] == 1
        summary = client.get("/api/v1/recon/summary", params={"account": "icbc-cny"}).json()
        assert (summary["match_rate_pct"], summary["entries"]) == ("100.0", 1)
        match_id = gateway_match(gateway)
        undo = client.post(f"/api/v1/recon/matches/{match_id}/unmatch",
                           json={"reason": "wrong invoice"})
        assert undo.status_code == 200 and undo.json()["reversal_voucher"].startswith("记-")
        again = client.post(f"/api/v1/recon/matches/{match_id}/unmatch",
                            json={"reason": "twice"})
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        summary = client.get("/api/v1/recon/summary").json()
        entry = next(e for e in summary["exceptions"] if e["kind"] == "entry")
        assert summary["match_rate_pct"] == "0.0" and entry["age_days"] == 0
        item = client.get("/api/v1/recon/queue").json()["suggestions"]
        body = {"entries": [int(entry["ref"])],
                "items": [item[0]["items"][0]] if item else [_open_item(gateway)]}
        made = client.post("/api/v1/recon/matches", json=body)
        assert made.status_code == 201, made.text
        assert client.post("/api/v1/recon/matches", json=body).status_code == 409
        # who decided is the caller; a body naming someone else is refused
        bad = client.post("/api/v1/recon/matches", json={**body, "by": "user:x"})
        assert bad.status_code == 422 and "/by" in bad.json()["detail"]
        assert client.get("/api/v1/recon/summary").json()["match_rate_pct"] == "100.0"


def gateway_match(app):
    from bankgate.services.recon_summary import confirmed_matches

    return confirmed_matches(uow=app.uow)[0]["id"]


def _open_item(app):
    with app.uow() as unit:
        return unit.recon.open_items()[0]["id"]


def test_reconciliation_routes_need_a_caller_with_the_right_role(gateway, sandbox):
    """Issue 5 over issue 6: anonymous callers get 401, an approver may read but not decide."""
    with TestClient(create_app(gateway)) as anonymous:
        assert anonymous.get("/api/v1/recon/summary").status_code == 401
    with TestClient(create_app(gateway), headers=person(gateway, "ann", "approver")) as client:
        assert client.get("/api/v1/recon/summary").status_code == 200
        assert client.post("/api/v1/recon/runs").status_code == 403


def test_a_decision_is_audited_under_the_authenticated_person(gateway, sandbox, payees):
    pay(gateway, sound_payees(payees, 1))
    sync_accounts(uow=gateway.uow, channels=gateway.channels, now=gateway.now,
                  config=gateway.finance.sync, through=bank_today())
    with TestClient(create_app(gateway), headers=person(gateway, "carol", "maker")) as client:
        assert client.post("/api/v1/recon/runs").json()["confirmed"] == 1
        match_id = gateway_match(gateway)
        assert client.post(f"/api/v1/recon/matches/{match_id}/unmatch",
                           json={"reason": "check"}).status_code == 200
    with gateway.uow() as unit:
        actors = {r["actor"] for r in unit.audit.for_subject(match_id)}
    assert any("carol" in actor for actor in actors), actors
