"""Bank callbacks: signed by the bank, fresh, never replayed (A-01, A-02, A-04, I-07);
duplicates ×10 concurrently → one transition, one audit record (B-09, B-11)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankgate.crypto.pki import issue_test_pki
from bankgate.crypto.signed_http import sign_request
from bankgate.domain import Status
from bankgate.sandbox.security import PartyKeys, issue_keys
from bankgate.services._tx import Changes, in_transaction
from bankgate.services.batching import form_batches
from tests.api.conftest import a_payment
from tests.signing import bank_signer, gateway_signer

KEY = {"Idempotency-Key": "cb-1"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="session")
def bank_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A test PKI with the signing keys of icbc (RSA-SHA256) and boc (ECDSA P-256)."""
    pki = issue_test_pki(tmp_path_factory.mktemp("callback-pki"))
    return {"pki": pki, **issue_keys(pki, {"icbc": "icbc", "boc": "boc"})}


@pytest.fixture
def banks(bank_keys: dict[str, Any]) -> dict[str, Any]:
    """Host-API channels for icbc and boc (never dialled: callbacks come to us)."""
    pki = bank_keys["pki"]
    return {bank: {"kind": "hostapi", "base_url": f"https://127.0.0.1:9/{bank}/v1",
                   "ca_file": str(pki.ca_cert), "dialect": bank,
                   "client_cert": str(pki.client_cert), "client_key": str(pki.client_key),
                   "signature_algorithm": keys.algorithm.value,
                   "signing_key": str(keys.gateway.key_file),
                   "signing_key_password_file": str(keys.gateway.password_file),
                   "bank_public_key": str(keys.bank.public_file)}
            for bank, keys in bank_keys.items() if isinstance(keys, PartyKeys)}


def signed(keys: dict[str, Any], bank: str, body: bytes, *, skew_s: float = 0,
           signer: Any = None, path: str | None = None) -> dict[str, str]:
    """The headers of a callback signed by `bank` (or by `signer`), `skew_s` off our clock."""
    now = datetime.now(UTC) + timedelta(seconds=skew_s)
    return {**JSON, **sign_request(signer or bank_signer(keys[bank]), method="POST",
                                   target=path or f"/api/v1/callbacks/{bank}", body=body,
                                   now=now)}


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
        client, gateway, server, bank_keys):
    order = _accepted_order(client, gateway)

    def deliver(_: int) -> tuple[int, dict[str, object]]:  # signed afresh: duplicates, not replays
        body = _callback(order)
        with httpx.Client(base_url=server, timeout=30) as http:
            answer = http.post("/api/v1/callbacks/icbc", content=body,
                               headers=signed(bank_keys, "icbc", body))
            return answer.status_code, answer.json()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(deliver, range(10)))
    assert [status for status, _ in answers] == [200] * 10  # every duplicate acknowledged
    # one moved the order; each other one says it changed nothing (docs/api.md)
    assert sorted((a["moved"], a["ignored"]) for _, a in answers) == \
        [(0, True)] * 9 + [(1, False)]
    with gateway.uow() as unit:
        history = unit.audit.for_subject(order["id"])
        assert unit.orders.get(order["id"]).status is Status.SETTLED
    settled = [h for h in history if h["to_status"] == "settled"]
    assert len(settled) == 1 and settled[0]["actor"] == "bank:icbc"


def test_B10_a_late_accepted_after_settled_changes_nothing(client, gateway, bank_keys):
    order = _accepted_order(client, gateway)
    settled, late = _callback(order, "30"), _callback(order, "20")
    assert client.post("/api/v1/callbacks/icbc", content=settled,
                       headers=signed(bank_keys, "icbc", settled)).json()["moved"] == 1
    late = client.post("/api/v1/callbacks/icbc", content=late,
                       headers=signed(bank_keys, "icbc", late))
    assert late.status_code == 200 and late.json() == {"ok": True, "moved": 0, "ignored": True}


def test_B11_a_callback_for_an_unknown_order_changes_nothing_and_is_audited(client, gateway,
                                                                           bank_keys):
    stranger = _callback({"instruction_id": "0000000000000000000000000000dead"})
    answer = client.post("/api/v1/callbacks/icbc", content=stranger,
                         headers=signed(bank_keys, "icbc", stranger))
    assert answer.status_code == 200 and answer.json()["ignored"] is True
    with gateway.uow() as unit:
        assert unit.audit.count("callback.refused") == 1


def test_malformed_callbacks_and_unknown_banks_are_refused(client, gateway, bank_keys):
    bad = client.post("/api/v1/callbacks/icbc", content=b"{nope",
                      headers=signed(bank_keys, "icbc", b"{nope"))
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_callback"
    assert client.post("/api/v1/callbacks/nobank", content=b"{}").status_code == 404


def test_B11_another_banks_callback_for_our_order_changes_nothing_and_is_audited(
        client, gateway, bank_keys):
    order = _accepted_order(client, gateway)
    forged = json.dumps({"callback_id": "boc-1", "bank": "boc",
                         "instruction_id": order["instruction_id"], "status": "ACSC",
                         "error_code": None, "error_message": None,
                         "at": "2026-11-23T08:00:00Z"}).encode()
    answer = client.post("/api/v1/callbacks/boc", content=forged,
                         headers=signed(bank_keys, "boc", forged))
    assert answer.status_code == 200 and answer.json() == {"ok": True, "moved": 0,
                                                           "ignored": True}
    with gateway.uow() as unit:
        assert unit.orders.get(order["id"]).status is Status.ACCEPTED
        assert unit.audit.count("callback.refused") == 1


def test_a_callback_naming_another_bank_or_not_an_object_is_refused(client, gateway,
                                                                   bank_keys):
    order = _accepted_order(client, gateway)
    for body in (_callback(order).replace(b'"icbc"', b'"boc"'), b"[]", b'"x"',
                 b'{"callback_id": "c"}'):
        answer = client.post("/api/v1/callbacks/icbc", content=body,
                             headers=signed(bank_keys, "icbc", body))
        assert answer.status_code == 400, body
    with gateway.uow() as unit:
        assert unit.orders.get(order["id"]).status is Status.ACCEPTED


def _refusals(gateway) -> list[dict]:
    with gateway.uow() as unit:
        return [r["detail"] for r in unit.audit.for_subject("callback:icbc")]


def _status(gateway, order: dict) -> Status:
    with gateway.uow() as unit:
        return unit.orders.get(order["id"]).status


def test_A01_an_unsigned_callback_is_refused_audited_and_changes_nothing(client, gateway):
    order = _accepted_order(client, gateway)
    answer = client.post("/api/v1/callbacks/icbc", content=_callback(order), headers=JSON)
    assert (answer.status_code, answer.json()["code"]) == (401, "AUTH_SIGNATURE_MISSING")
    assert _status(gateway, order) is Status.ACCEPTED
    assert [r["code"] for r in _refusals(gateway)] == ["AUTH_SIGNATURE_MISSING"]


@pytest.mark.parametrize(("forgery", "code"), [
    ("signed by the gateway's own key", "AUTH_UNKNOWN_KEY"),
    ("signed by another bank", "AUTH_UNKNOWN_KEY"),
    ("algorithm header swapped", "AUTH_WRONG_ALGORITHM"),
    ("body changed after signing", "AUTH_DIGEST_MISMATCH"),
    ("signed for another path", "AUTH_SIGNATURE_INVALID"),
    ("signature bytes flipped", "AUTH_SIGNATURE_INVALID"),
])
def test_A01_a_forged_callback_is_refused_with_key_id_and_reason_audited(
        client, gateway, bank_keys, forgery, code):
    order = _accepted_order(client, gateway)
    body = _callback(order)
    if forgery == "signed by the gateway's own key":
        headers = signed(bank_keys, "icbc", body, signer=gateway_signer(bank_keys["icbc"]))
    elif forgery == "signed by another bank":  # boc signs ECDSA; icbc agreed RSA-SHA256
        headers = signed(bank_keys, "icbc", body, signer=bank_signer(bank_keys["boc"]))
    elif forgery == "signed for another path":
        headers = signed(bank_keys, "icbc", body, path="/api/v1/callbacks/boc")
    else:
        headers = signed(bank_keys, "icbc", body)
    if forgery == "body changed after signing":
        body = body.replace(b'"30"', b'"40"')
    if forgery == "algorithm header swapped":  # alg confusion: the key agreed RSA-SHA256
        headers["X-Bg-Algorithm"] = "ECDSA-P256-SHA256"
    if forgery == "signature bytes flipped":
        sig = headers["X-Bg-Signature"]
        headers["X-Bg-Signature"] = ("B" if sig[0] == "A" else "A") + sig[1:]
    answer = client.post("/api/v1/callbacks/icbc", content=body, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (401, code)
    assert _status(gateway, order) is Status.ACCEPTED
    [refusal] = _refusals(gateway)
    assert refusal["code"] == code and refusal["key_id"] == headers["X-Bg-Key-Id"]


def test_A02_a_replayed_callback_is_refused_even_after_a_restart(client, gateway, bank_keys,
                                                                 store_url, banks):
    """The nonce store is the database: a captured callback resent later, to another API
    process or after a restart, is refused (TTL ≥ the window)."""
    from bankgate.bootstrap import build_app
    from bankgate.settings import Settings

    order = _accepted_order(client, gateway)
    body = _callback(order)
    headers = signed(bank_keys, "icbc", body)
    assert client.post("/api/v1/callbacks/icbc", content=body, headers=headers).json()[
        "moved"] == 1
    again = client.post("/api/v1/callbacks/icbc", content=body, headers=headers)
    assert (again.status_code, again.json()["code"]) == (401, "AUTH_NONCE_REPLAYED")
    restarted = build_app(Settings(db_url=store_url), {"banks": banks})
    try:
        from fastapi.testclient import TestClient

        from bankgate.api import create_app

        with TestClient(create_app(restarted)) as other:
            later = other.post("/api/v1/callbacks/icbc", content=body, headers=headers)
    finally:
        restarted.close()
    assert (later.status_code, later.json()["code"]) == (401, "AUTH_NONCE_REPLAYED")
    assert [r["code"] for r in _refusals(gateway)] == ["AUTH_NONCE_REPLAYED"] * 2
    assert _status(gateway, order) is Status.SETTLED


@pytest.mark.parametrize("skew_s", [-290, 290])
def test_I07_a_callback_inside_the_clock_window_is_accepted(client, gateway, bank_keys,
                                                            skew_s):
    order = _accepted_order(client, gateway)
    body = _callback(order)
    answer = client.post("/api/v1/callbacks/icbc", content=body,
                         headers=signed(bank_keys, "icbc", body, skew_s=skew_s))
    assert answer.status_code == 200 and _status(gateway, order) is Status.SETTLED


@pytest.mark.parametrize("skew_s", [-3600, -310, 310])
def test_I07_A02_a_callback_outside_the_window_is_refused_as_clock_skew(client, gateway,
                                                                        bank_keys, skew_s):
    """An old timestamp (a captured callback resent later) or a bank clock far off."""
    order = _accepted_order(client, gateway)
    body = _callback(order)
    answer = client.post("/api/v1/callbacks/icbc", content=body,
                         headers=signed(bank_keys, "icbc", body, skew_s=skew_s))
    assert (answer.status_code, answer.json()["code"]) == (401, "AUTH_CLOCK_SKEW")
    assert "clock skew" in answer.json()["detail"] and "window ±300 s" in answer.json()["detail"]
    assert _status(gateway, order) is Status.ACCEPTED
    assert [r["code"] for r in _refusals(gateway)] == ["AUTH_CLOCK_SKEW"]


def test_INV7_refusals_show_no_key_material(client, gateway, bank_keys):
    order = _accepted_order(client, gateway)
    body = _callback(order)
    headers = signed(bank_keys, "icbc", body, signer=gateway_signer(bank_keys["icbc"]))
    text = client.post("/api/v1/callbacks/icbc", content=body, headers=headers).text
    secrets = [Path(k.gateway.password_file).read_text().strip()
               for k in bank_keys.values() if isinstance(k, PartyKeys)]
    detail = json.dumps(_refusals(gateway))
    for secret in secrets:
        assert secret not in text and secret not in detail
    assert "PRIVATE KEY" not in text + detail and headers["X-Bg-Signature"] not in detail


def _paid(order: dict, *, amount: str = "1200.50", account: str = "6222020200009000001",
          currency: str = "CNY") -> bytes:
    """A settled callback that says what the bank paid, as the sandbox bank sends it."""
    body = json.loads(_callback(order, "30"))
    body.update(amount=amount, currency=currency, creditor_account=account)
    return json.dumps(body).encode()


def test_B12_a_callback_that_says_what_the_order_says_settles_it(client, gateway, bank_keys):
    order = _accepted_order(client, gateway)
    body = _paid(order)
    answer = client.post("/api/v1/callbacks/icbc", content=body,
                         headers=signed(bank_keys, "icbc", body))
    assert answer.status_code == 200 and answer.json()["moved"] == 1
    with gateway.uow() as unit:
        assert unit.orders.get(order["id"]).status is Status.SETTLED
        assert unit.alerts.find() == []


@pytest.mark.parametrize(("paid", "says"), [
    ({"amount": "1200.05"}, "says 1200.05 CNY for order"),
    ({"amount": "1200.50", "currency": "USD"}, "says 1200.50 USD for order"),
    ({"account": "6222020200009000002"}, "paid account 6222****0002, not the order's payee "
                                          "account 6222****0001"),
])
def test_B12_a_signed_callback_that_contradicts_the_order_is_refused_alerted_and_changes_nothing(
        client, gateway, bank_keys, paid, says):
    order = _accepted_order(client, gateway)
    body = _paid(order, **paid)
    for _ in range(2):  # the bank retries until it gets a 2xx: each delivery is refused
        answer = client.post("/api/v1/callbacks/icbc", content=body,
                             headers=signed(bank_keys, "icbc", body))
        assert answer.status_code == 409 and answer.json()["code"] == "callback_mismatch"
        assert says in answer.json()["detail"]
    with gateway.uow() as unit:
        assert unit.orders.get(order["id"]).status is Status.ACCEPTED
        refused = [h for h in unit.audit.for_subject(order["id"])
                   if h["action"] == "callback.refused"]
        [alert] = unit.alerts.find()
    assert len(refused) == 2 and says in refused[0]["detail"]["reason"]
    assert (alert.kind, alert.level.value, alert.seen_count) == ("callback.mismatch",
                                                                  "critical", 2)
    assert "6222020200009" not in alert.message  # INV-7: numbers masked
    assert "6222020200009" not in answer.text


@pytest.mark.parametrize("bad", [{"amount": 1200.5}, {"amount": "1200.5"},
                                 {"currency": None}, {"account": "not-an-account"}])
def test_B12_a_callback_whose_paid_fields_cannot_be_read_is_refused_whole(client, gateway,
                                                                         bank_keys, bad):
    order = _accepted_order(client, gateway)
    body = json.loads(_paid(order))
    if "account" in bad:
        body["creditor_account"] = bad["account"]
    else:
        body.update(bad)
    raw = json.dumps(body).encode()
    answer = client.post("/api/v1/callbacks/icbc", content=raw,
                         headers=signed(bank_keys, "icbc", raw))
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_callback"
    with gateway.uow() as unit:
        assert unit.orders.get(order["id"]).status is Status.ACCEPTED
