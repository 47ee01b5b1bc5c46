"""Authentication and roles over the API: every attack refused, audited, payments unchanged.

A-07 (release by PATCH of status, too few approvals), A-08 (maker approving, mass assignment,
API key beyond its scope, approver editing the policy), A-10 and A-11 over HTTP, and the
route table: every route needs a declared permission.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.api.auth import PUBLIC, ROUTES
from bankgate.services.users import create_api_client
from tests.control_world import PASSWORD, Person, World, control_world


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    built = control_world(store_url, tmp_path)
    yield built
    built.app.close()


@pytest.fixture
def http(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.app)) as client:
        yield client


def _key(world: World, *scopes: str) -> dict[str, str]:
    _, key = create_api_client(uow=world.app.uow, name=f"erp-{'-'.join(scopes)}"[:80],
                               scopes=scopes, actor="test:admin", now=world.clock)
    return {"X-API-Key": key}


_ERP: dict[int, dict[str, str]] = {}


def _erp(world: World) -> dict[str, str]:
    if id(world) not in _ERP:
        _ERP[id(world)] = _key(world, "payments:create", "payments:read", "payments:cancel")
    return _ERP[id(world)]


def _token(http: TestClient, person: Person) -> dict[str, str]:
    answer = http.post("/api/v1/sessions", json={"username": person.user.username,
                                                  "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _payment(amount: str) -> dict[str, Any]:
    return {"debtor_account": "acc-icbc", "payee_name": "上海某某贸易有限公司",
            "payee_account": "6222020200009000001", "payee_bank": "icbc", "amount": amount,
            "currency": "CNY", "remittance": "INV-9"}


def _create(http: TestClient, world: World, amount: str, key: str = "k1") -> dict[str, Any]:
    answer = http.post("/api/v1/payments", json=_payment(amount),
                       headers={**_erp(world), "Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _status(http: TestClient, world: World, order_id: str) -> tuple[str, int]:
    shown = http.get(f"/api/v1/payments/{order_id}", headers=_erp(world)).json()
    return shown["status"], len(shown["history"])


def _refusals(world: World) -> int:
    with world.app.uow() as unit:
        return unit.audit.count("request.refused")


def test_every_route_declares_who_may_call_it(world: World) -> None:
    paths = create_app(world.app).openapi()["paths"]
    ours = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert len(ours) > 20
    assert ours - set(ROUTES) - PUBLIC == set()  # nothing reachable by accident
    assert set(ROUTES) - ours == set()  # nothing declared that does not exist


def test_a_request_without_credentials_is_refused_and_audited(http: TestClient,
                                                              world: World) -> None:
    answer = http.post("/api/v1/payments", json=_payment("10.00"),
                       headers={"Idempotency-Key": "k"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "X-API-Key" in answer.json()["detail"]
    wrong = http.get("/api/v1/payments", headers={"X-API-Key": "bgk_abc.def"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "authentication_failed"
    assert _refusals(world) == 2
    with world.app.uow() as unit:
        assert unit.orders.count_by_status() == {}


def test_a08_an_api_key_cannot_go_beyond_its_scope(http: TestClient, world: World) -> None:
    order = _create(http, world, "5000.00")
    reader = _key(world, "payments:read")
    answer = http.post("/api/v1/payments", json=_payment("10.00"),
                       headers={**reader, "Idempotency-Key": "k2"})
    assert answer.status_code == 403 and "needs payments:create" in answer.json()["detail"]
    approve = http.post(f"/api/v1/payments/{order['id']}/approve", json={"code": "123456"},
                        headers=_erp(world))
    assert approve.status_code == 403 and "needs payments:approve" in approve.json()["detail"]
    assert _status(http, world, order["id"])[0] == "pending_approval"
    assert _refusals(world) == 2


def test_an_order_is_approved_over_the_api_with_a_fresh_code(http: TestClient,
                                                             world: World) -> None:
    anna = world.person("anna", "approver")
    order = _create(http, world, "5000.00")
    assert order["status"] == "pending_approval"
    answer = http.post(f"/api/v1/payments/{order['id']}/approve", json={"code": anna.code()},
                       headers=_token(http, anna))
    assert answer.status_code == 200 and answer.json()["status"] == "released"
    controls = http.get(f"/api/v1/payments/{order['id']}/controls",
                        headers=_token(http, anna)).json()
    assert controls["decision"]["rule"] == "tier[1] 'medium'"
    assert controls["approvals"][0]["by"] == "user:anna" and controls["approvals"][0]["step_up"]
    assert "rule: tier[1] 'medium'" in controls["explain"]


def test_a08_a_maker_cannot_approve_or_administer(http: TestClient, world: World) -> None:
    mia = world.person("mia", "maker")
    order = _create(http, world, "5000.00")
    headers = _token(http, mia)
    approve = http.post(f"/api/v1/payments/{order['id']}/approve", json={"code": mia.code()},
                        headers=headers)
    assert approve.status_code == 403
    admin = http.post("/api/v1/users", json={"username": "evil", "display_name": "E",
                                             "roles": ["treasurer_admin"],
                                             "password": PASSWORD}, headers=headers)
    assert admin.status_code == 403
    assert _status(http, world, order["id"])[0] == "pending_approval"
    assert _refusals(world) == 2


def test_a08_roles_cannot_be_changed_by_mass_assignment(http: TestClient, world: World) -> None:
    tom = world.person("tom", "treasurer_admin")
    world.person("anna", "approver")
    headers = _token(http, tom)
    sneaky = http.patch("/api/v1/users/anna", json={"roles": ["approver"],
                                                    "password_hash": "x"}, headers=headers)
    assert sneaky.status_code == 422 and sneaky.json()["pointer"] == "/password_hash"
    own = http.patch("/api/v1/users/tom", json={"roles": ["treasurer_admin", "releaser"]},
                     headers=headers)
    assert own.status_code == 403 and "their own roles" in own.json()["detail"]
    made = http.post("/api/v1/users", json={"username": "zed", "display_name": "Z",
                                            "roles": ["releaser"], "password": PASSWORD,
                                            "id": "u-admin"}, headers=headers)
    assert made.status_code == 422
    login = http.post("/api/v1/sessions", json={"username": "anna", "password": PASSWORD,
                                                "roles": ["treasurer_admin"]})
    assert login.status_code == 422


def test_a08_an_approver_cannot_edit_the_policy(http: TestClient, world: World) -> None:
    anna = world.person("anna", "approver")
    answer = http.post("/api/v1/policy", json={"content": 'schema = 1\nname = "lax"\n'
                                                          "[unmatched]\napprovals = 0\n"},
                       headers=_token(http, anna))
    assert answer.status_code == 403
    assert http.get("/api/v1/policy", headers=_token(http, anna)).json()["name"] == "test"


def test_a07_release_by_patching_the_status_is_refused(http: TestClient, world: World) -> None:
    mia = world.person("mia", "maker")
    order = _create(http, world, "20000.00")
    before = _status(http, world, order["id"])
    no_scope = http.patch(f"/api/v1/payments/{order['id']}", json={"status": "released"},
                          headers=_erp(world))
    assert no_scope.status_code == 403 and "needs payments:edit" in no_scope.json()["detail"]
    maker = http.patch(f"/api/v1/payments/{order['id']}", json={"status": "released"},
                       headers=_token(http, mia))
    assert maker.status_code == 403 and maker.json()["pointer"] == "/status"
    assert _status(http, world, order["id"]) == before
    assert _refusals(world) == 2


def test_a07_release_with_too_few_approvals_is_a_409(http: TestClient, world: World) -> None:
    rex = world.person("rex", "releaser")
    order = _create(http, world, "20000.00")
    before = _status(http, world, order["id"])
    answer = http.post(f"/api/v1/payments/{order['id']}/release", json={"code": rex.code()},
                       headers=_token(http, rex))
    assert answer.status_code == 409 and "not approved" in answer.json()["detail"]
    assert _status(http, world, order["id"]) == before


def test_a06_a_maker_edit_voids_the_approval_given(http: TestClient, world: World) -> None:
    anna, mia = world.person("anna", "approver"), world.person("mia", "maker")
    order = _create(http, world, "20000.00")
    http.post(f"/api/v1/payments/{order['id']}/approve", json={"code": anna.code()},
              headers=_token(http, anna))
    edited = http.patch(f"/api/v1/payments/{order['id']}", json={"amount": "20000.10"},
                        headers=_token(http, mia))
    assert edited.status_code == 200 and edited.json()["status"] == "pending_approval"
    controls = http.get(f"/api/v1/payments/{order['id']}/controls",
                        headers=_token(http, anna)).json()
    assert [a["void"] for a in controls["approvals"]] == [True]


def test_a10_a_wrong_or_reused_code_is_refused_over_the_api(http: TestClient,
                                                            world: World) -> None:
    anna = world.person("anna", "approver")
    first, second = _create(http, world, "5000.00", "a"), _create(http, world, "6000.00", "b")
    headers = _token(http, anna)
    wrong = http.post(f"/api/v1/payments/{first['id']}/approve", json={"code": "000000"},
                      headers=headers)
    assert wrong.status_code == 401 and "wrong" in wrong.json()["detail"]
    code = anna.code()
    assert http.post(f"/api/v1/payments/{first['id']}/approve", json={"code": code},
                     headers=headers).status_code == 200
    reused = http.post(f"/api/v1/payments/{second['id']}/approve", json={"code": code},
                       headers=headers)
    assert reused.status_code == 401 and "already used" in reused.json()["detail"]
    assert _status(http, world, second["id"])[0] == "pending_approval"


def test_a11_a_wrong_password_is_one_clear_line_and_audited(http: TestClient,
                                                            world: World) -> None:
    world.person("anna", "approver")
    answer = http.post("/api/v1/sessions", json={"username": "anna", "password": "nope"})
    assert answer.status_code == 401
    assert answer.json()["detail"] == "login refused: wrong username or password"
    with world.app.uow() as unit:
        assert unit.audit.count("login.failed") == 1


def test_every_declared_route_refuses_a_caller_without_credentials(http: TestClient,
                                                                    world: World) -> None:
    """The route table as data: each entry, called anonymously, is a 401 and audited."""
    for method, path in sorted(ROUTES):
        url = path.replace("{", "").replace("}", "")  # any value for path parameters
        answer = http.request(method, url, json={})
        assert answer.status_code == 401, (method, path, answer.text)
    assert _refusals(world) == len(ROUTES)


def test_a10_a_locked_factor_cannot_be_bypassed_by_enrolling_a_new_one(
        http: TestClient, world: World) -> None:
    anna = world.person("anna", "approver")
    order = _create(http, world, "5000.00")
    headers = _token(http, anna)
    for _ in range(5):
        http.post(f"/api/v1/payments/{order['id']}/approve", json={"code": "000000"},
                  headers=headers)
    again = http.post("/api/v1/me/totp", headers=headers)
    assert again.status_code == 403 and "already has a TOTP factor" in again.json()["detail"]
    locked = http.post(f"/api/v1/payments/{order['id']}/approve", json={"code": anna.code()},
                       headers=headers)
    assert locked.status_code == 401 and "locked" in locked.json()["detail"]
    assert _status(http, world, order["id"])[0] == "pending_approval"
