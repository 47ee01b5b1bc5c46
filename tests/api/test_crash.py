"""K-01, K-02: the API process is SIGKILLed around the commit; the client's retry is safe.
K-10: it is SIGKILLed around a bank callback's commit; the bank's redelivery is applied once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.bootstrap import App, build_app
from bankgate.crypto.pki import issue_test_pki
from bankgate.domain import PaymentOrder, Status
from bankgate.sandbox.security import build_security, issue_keys
from bankgate.services._tx import Changes, in_transaction
from bankgate.services.batching import form_batches
from bankgate.settings import Settings
from bankgate.store import UnitOfWork
from tests.api.conftest import a_payment, erp_headers
from tests.e2e.harness import write_config

CONFIG = ('policy = "straight-through"\n'
          '[[accounts]]\nid = "icbc-cny"\nbank = "icbc"\nnumber = "6222020200001000001"\n'
          'currency = "CNY"\nname = "示例科技有限公司"\n')
ACCOUNT = {"id": "icbc-cny", "bank": "icbc", "number": "6222020200001000001", "currency": "CNY",
           "name": "示例科技有限公司"}


def _serve(store_url: str, config: Path, crash_at: str | None) -> tuple[subprocess.Popen, str]:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "BANKGATE_DB_URL": store_url, "BANKGATE_CONFIG": str(config),
           "BANKGATE_TEST_HOOKS": "1"}
    env.pop("BANKGATE_CRASH_AT", None)
    if crash_at:
        env["BANKGATE_CRASH_AT"] = crash_at
    proc = subprocess.Popen([sys.executable, "-m", "bankgate", "serve", "--port", str(port),
                             "--no-worker"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("bankgate serve did not start")


@pytest.mark.slow
@pytest.mark.parametrize(("point", "replayed"), [("payments.before_commit", False),
                                                 ("api.after_commit", True)])
def test_a_retry_after_the_api_died_creates_exactly_one_order(store_url, tmp_path, point,
                                                              replayed):
    """K-01 (killed before the commit) and K-02 (killed after it, before the answer)."""
    config = tmp_path / "bankgate.toml"
    config.write_text(CONFIG, encoding="utf-8")
    app = build_app(Settings(db_url=store_url), {})
    headers = {"Idempotency-Key": "k-crash-1", **erp_headers(app)}
    app.close()
    proc, url = _serve(store_url, config, point)
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{url}/api/v1/payments", json=a_payment(), headers=headers, timeout=10)
    assert proc.wait(timeout=10) == -9
    proc, url = _serve(store_url, config, None)
    try:
        retry = httpx.post(f"{url}/api/v1/payments", json=a_payment(), headers=headers,
                           timeout=10)
        listed = httpx.get(f"{url}/api/v1/payments", headers=headers,
                           timeout=10).json()["payments"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert retry.status_code == 201
    assert (retry.headers.get("Idempotency-Replayed") == "true") is replayed
    assert [p["id"] for p in listed] == [retry.json()["id"]]


def _accepted_order(app: App) -> PaymentOrder:
    """One order the bank has accepted, as the dispatch and the first status word leave it."""
    with TestClient(create_app(app), headers=erp_headers(app)) as http:
        created = http.post("/api/v1/payments", json=a_payment(),
                            headers={"Idempotency-Key": "k10-1"}).json()
    form_batches(uow=app.uow, now=app.now)

    def move(unit: UnitOfWork) -> None:
        changes = Changes(at=app.now(), actor="test:setup")
        changes.move(changes.move(unit.orders.get(created["id"]), Status.SUBMITTED),
                     Status.ACCEPTED)
        changes.flush(unit)
    in_transaction(app.uow, move)
    with app.uow() as unit:
        return unit.orders.get(created["id"])


def _settled_callback(order: PaymentOrder) -> bytes:
    """icbc's callback saying the order settled (status 30), always the same callback_id."""
    return json.dumps({"callback_id": "icbc-cb-k10", "bank": "icbc",
                       "instruction_id": order.instruction_id, "status": "30",
                       "error_code": None, "error_message": None,
                       "at": "2026-11-23T08:00:00Z"}).encode()


@pytest.mark.slow
@pytest.mark.parametrize(("point", "status_after_crash"),
                         [("callbacks.before_commit", Status.ACCEPTED),
                          ("callbacks.after_commit", Status.SETTLED)])
def test_K10_a_callback_the_api_died_on_is_applied_once_when_the_bank_sends_it_again(
        store_url, tmp_path, point, status_after_crash):
    """K-10: SIGKILL before the callback's commit, and after it before the 2xx; the bank,
    having no 2xx, delivers the same callback (same callback_id, signed afresh, as
    sandbox/callbacks.py does) to the restarted API: the order moves to settled once."""
    pki = issue_test_pki(tmp_path / "pki")
    keys = issue_keys(pki, {"icbc": "icbc"})
    config = {"accounts": [ACCOUNT], "follow": {}, "banks": {"icbc": {
        "kind": "hostapi", "base_url": "https://127.0.0.1:9/icbc/v1", "dialect": "icbc",
        "ca_file": str(pki.ca_cert), "client_cert": str(pki.client_cert),
        "client_key": str(pki.client_key), "signature_algorithm": keys["icbc"].algorithm.value,
        "signing_key": str(keys["icbc"].gateway.key_file),
        "signing_key_password_file": str(keys["icbc"].gateway.password_file),
        "bank_public_key": str(keys["icbc"].bank.public_file)}}}
    config_file = write_config(tmp_path / "bankgate.toml", config)
    app = build_app(Settings(db_url=store_url), {**config, "policy": "straight-through"})
    try:
        order = _accepted_order(app)
        sign = build_security(keys).callback_signer("icbc")  # the bank's own signing
        body, target = _settled_callback(order), "/api/v1/callbacks/icbc"

        def deliver(url: str) -> httpx.Response:  # one delivery: a new timestamp and nonce
            headers = {"Content-Type": "application/json",
                       **sign(target, body, datetime.now(UTC))}
            return httpx.post(url + target, content=body, headers=headers, timeout=10)

        proc, url = _serve(store_url, config_file, point)
        with pytest.raises(httpx.TransportError):
            deliver(url)
        assert proc.wait(timeout=10) == -9
        with app.uow() as unit:
            assert unit.orders.get(order.id).status is status_after_crash
        proc, url = _serve(store_url, config_file, None)
        try:
            again = deliver(url)
            once_more = deliver(url)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        with app.uow() as unit:
            final = unit.orders.get(order.id)
            history = [h for h in unit.audit.for_subject(order.id)
                       if h["action"] == "order.transition"]
    finally:
        app.close()
    assert again.status_code == 200 and once_more.status_code == 200
    assert again.json()["moved"] == (1 if status_after_crash is Status.ACCEPTED else 0)
    assert once_more.json()["moved"] == 0
    assert final.status is Status.SETTLED
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in history][-2:] == [
        ("submitted", "accepted", "test:setup"), ("accepted", "settled", "bank:icbc")]
    assert sum(h["to_status"] == "settled" for h in history) == 1
