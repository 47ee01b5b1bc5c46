"""Fault injection (lost answers, busy, errors after booking) and callbacks to the gateway."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bankgate.crypto import client_ssl_context, server_ssl_context
from tests.sandbox.conftest import batch, order


def _submit(client: httpx.Client, bank: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/{bank}/v1/payments/batches", json=body)


def test_drop_after_accept_closes_the_connection_and_the_order_is_booked_once(
        sandbox, client, post):
    sandbox.set_faults(script=[{"op": "submit", "fault": "drop_after_accept"}])
    body = batch("icbc", order("icbc"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _submit(client, "icbc", body)
    iid = body["orders"][0]["instruction_id"]
    assert sandbox.ledger.debit_bookings() == {iid: 1}
    again = _submit(client, "icbc", body)  # a resend of the same batch books nothing
    assert again.status_code == 200 and again.json()["orders"][0]["status"] == "20"
    assert sandbox.ledger.debit_bookings() == {iid: 1}


def test_drop_after_accept_through_the_admin_endpoint_for_one_bank(sandbox, client):
    answer = client.post("/_sandbox/faults", json={"bank": "cmb", "drop_after_accept_rate": 1})
    assert answer.json()["faults"]["drop_after_accept_rate"] == 1
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _submit(client, "cmb", batch("cmb", order("cmb")))
    assert _submit(client, "boc", batch("boc", order("boc"))).status_code == 200


def test_busy_is_503_and_books_nothing_then_the_retry_books(sandbox, client):
    sandbox.set_faults(bank="boc", script=[{"op": "submit", "fault": "busy"}])
    body = batch("boc", order("boc"))
    busy = _submit(client, "boc", body)
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "TM01"
    assert sandbox.ledger.debit_bookings() == {}
    assert _submit(client, "boc", body).status_code == 200
    assert sandbox.ledger.debit_bookings() == {body["orders"][0]["instruction_id"]: 1}


def test_rate_limited_is_429_with_retry_after(sandbox, post):
    sandbox.set_faults(rate_limited_rate=1.0, retry_after_s=3)
    answer = post("cmb", "/balances", {"accounts": ["200000000001"]})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"
    assert answer.json()["error"]["code"] == "FREQ_LIMIT"
    sandbox.set_faults(reset=True)
    assert post("cmb", "/balances", {"accounts": ["200000000001"]}).status_code == 200


def test_error_after_booking_is_500_and_the_resend_gets_the_stored_answer(sandbox, client):
    sandbox.set_faults(script=[{"op": "submit", "fault": "error_after_booking"}])
    body = batch("icbc", order("icbc"))
    failed = _submit(client, "icbc", body)
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "E9999"
    assert _submit(client, "icbc", body).json()["orders"][0]["status"] == "20"
    assert sandbox.ledger.debit_bookings() == {body["orders"][0]["instruction_id"]: 1}


def test_sleep_after_accept_books_then_answers_late(sandbox, client):
    sandbox.set_faults(script=[{"op": "submit", "fault": "sleep_after_accept"}],
                       sleep_after_accept_s=1.0)
    body = batch("cmb", order("cmb"))
    with pytest.raises(httpx.ReadTimeout):
        client.post("/cmb/v1/payments/batches", json=body, timeout=0.3)
    assert sandbox.ledger.debit_bookings() == {body["orders"][0]["instruction_id"]: 1}


def test_fault_knobs_out_of_range_are_400_naming_the_knob(client):
    for bad in ({"error_rate": 2}, {"latency_s": "x"}, {"nonsense": 1},
                {"script": [{"op": "submit", "fault": "explode"}]}, {"bank": "zzz"}):
        answer = client.post("/_sandbox/faults", json=bad)
        assert answer.status_code == 400, bad
    assert "error_rate" in client.post("/_sandbox/faults",
                                       json={"error_rate": 2}).json()["error"]["message"]


class _Receiver:
    """A tiny HTTPS callback receiver with the test PKI; fails the first `fail_first` posts."""

    def __init__(self, pki: Any, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    receiver.fail_first -= 1
                    failing = receiver.fail_first >= 0
                    if not failing:
                        receiver.bodies.append(body)
                self.send_response(503 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = server_ssl_context(pki).wrap_socket(self.server.socket,
                                                                 server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/callbacks/icbc"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver(sandbox) -> Iterator[_Receiver]:
    found = _Receiver(sandbox.pki)
    yield found
    found.close()


def test_callbacks_are_delivered_on_settlement_and_on_return(sandbox, client, receiver):
    good, bad = order("icbc"), order("cmb", account="200000000999")
    _submit(client, "icbc", batch("icbc", good, bad, callback_url=receiver.url))
    bodies = receiver.wait_for(2)
    assert {(b["instruction_id"], b["status"], b["error_code"]) for b in bodies} == {
        (good["instruction_id"], "30", None), (bad["instruction_id"], "50", "E2002")}
    assert all(b["bank"] == "icbc" and b["at"].endswith("Z") for b in bodies)
    assert len({b["callback_id"] for b in bodies}) == 2


def test_duplicate_callbacks_carry_the_same_callback_id(sandbox, client, receiver):
    sandbox.set_faults(duplicate_callbacks=3)
    line = order("boc")
    _submit(client, "boc", batch("boc", line, callback_url=receiver.url))
    bodies = receiver.wait_for(3)
    time.sleep(0.1)
    assert len(receiver.bodies) == 3
    assert len({b["callback_id"] for b in bodies}) == 1
    assert {b["status"] for b in bodies} == {"ACSC"}


def test_a_failing_receiver_gets_the_callback_again_with_backoff(sandbox, client):
    receiver = _Receiver(sandbox.pki, fail_first=2)
    try:
        _submit(client, "cmb", batch("cmb", order("cmb"), callback_url=receiver.url))
        bodies = receiver.wait_for(1)
        assert len(bodies) == 1 and bodies[0]["status"] == "FIN-S"
        assert receiver.fail_first == -1  # two refusals, then the delivery
    finally:
        receiver.close()


def test_verification_is_on_a_client_without_the_ca_cannot_connect(sandbox):
    """A-04: a client that does not trust our CA, or presents no certificate, gets nothing."""
    with httpx.Client(timeout=2) as stranger, pytest.raises(httpx.ConnectError):
        stranger.get(f"{sandbox.base_url}/_sandbox/ledger")
    with httpx.Client(verify=client_ssl_context(sandbox.pki, with_client_cert=False),
                      timeout=2) as anonymous, pytest.raises(httpx.TransportError,
                                                             match="CERTIFICATE_REQUIRED"):
        anonymous.get(f"{sandbox.base_url}/_sandbox/ledger")


def test_B06_a_batch_presented_again_past_the_retry_window_is_refused_and_nothing_is_done(
        sandbox, client):
    """`retry_window_s`: the window runs from the first time the bank saw the batch id, a
    request lost at its door included; inside it a resend books as usual, past it the bank
    refuses (409, its dialect's code) and does nothing. Every arrival is counted per id."""
    sandbox.set_faults(bank="boc", retry_window_s=1.0,
                       script=[{"op": "submit", "fault": "drop_before_accept"}])
    body = batch("boc", order("boc"))
    iid = body["orders"][0]["instruction_id"]
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _submit(client, "boc", body)
    assert sandbox.ledger.debit_bookings() == {}
    inside = _submit(client, "boc", body)  # at once: inside the window
    assert inside.status_code == 200 and inside.json()["orders"][0]["status"] == "ACCP"
    time.sleep(1.2)
    past = _submit(client, "boc", body)
    assert past.status_code == 409 and past.json()["error"]["code"] == "RTXP"
    assert sandbox.ledger.debit_bookings() == {iid: 1}
    assert sandbox.load.figures().submissions == {iid: 3}
