"""GET /api/v1/alerts and POST /api/v1/alerts/{id}/ack (issue 5, I-10, A-08): who may read,
who may acknowledge, and clear refusals — each refusal audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.services.users import create_api_client
from tests.control_world import signed_in
from tests.services.alerts_world import *  # noqa: F403  (the fixture)


def test_i10_a_maker_reads_the_alerts_and_is_refused_the_ack_a_treasurer_acknowledges(
        make_world) -> None:
    world = make_world()
    world.run_worker()
    client = TestClient(create_app(world.app))
    maker = signed_in(world.app, "li", "maker")
    listed = client.get("/api/v1/alerts", headers=maker)
    assert listed.status_code == 200
    kinds = [a["kind"] for a in listed.json()["alerts"]]
    assert kinds == ["token.pin_expiring", "certificate.expiring"]  # critical first
    cert = listed.json()["alerts"][1]
    refused = client.post(f"/api/v1/alerts/{cert['id']}/ack", headers=maker)
    assert refused.status_code == 403
    assert "needs alerts:ack" in refused.json()["detail"]
    with world.app.uow() as unit:
        audited = unit.audit.for_subject("POST /api/v1/alerts/{alert_id}/ack")
    assert audited and audited[-1]["action"] == "request.refused"

    admin = signed_in(world.app, "zhang", "treasurer_admin")
    done = client.post(f"/api/v1/alerts/{cert['id']}/ack", headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by"] == "user:zhang"
    again = client.post(f"/api/v1/alerts/{cert['id']}/ack", headers=admin)
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    unknown = client.post("/api/v1/alerts/424242/ack", headers=admin)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no alert 424242"
    bad = client.post("/api/v1/alerts/seven/ack", headers=admin)
    assert bad.status_code == 422
    open_ = client.get("/api/v1/alerts", headers=admin).json()["alerts"]
    assert [a["kind"] for a in open_] == ["token.pin_expiring"]
    every = client.get("/api/v1/alerts?all=true", headers=admin).json()["alerts"]
    assert len(every) == 2


def test_an_erp_key_with_alerts_read_lists_them_and_nobody_unauthenticated_does(
        make_world) -> None:
    world = make_world()
    world.run_worker()
    _, key = create_api_client(uow=world.app.uow, name="monitoring", scopes=["alerts:read"],
                               actor="test:admin", now=world.clock)
    client = TestClient(create_app(world.app))
    assert len(client.get("/api/v1/alerts", headers={"X-API-Key": key}).json()["alerts"]) == 2
    assert client.get("/api/v1/alerts").status_code == 401
    refused = client.post("/api/v1/alerts/1/ack", headers={"X-API-Key": key})
    assert refused.status_code == 403
