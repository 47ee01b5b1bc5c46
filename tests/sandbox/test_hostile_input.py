"""Malformed and hostile requests: 400 or 413 with the dialect's code naming the field."""

from __future__ import annotations

import socket
import ssl

import pytest

from bankgate.crypto import client_ssl_context
from bankgate.sandbox.hostapi import MAX_BODY_BYTES
from tests.sandbox.conftest import ACCOUNTS, batch, order

CODES = {"icbc": "E1000", "cmb": "PARAM_ERR", "boc": "FF01"}


def _raw(client, bank: str, content: bytes):
    return client.post(f"/{bank}/v1/payments/batches", content=content,
                       headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("bank", sorted(CODES))
def test_malformed_json_is_400_with_the_dialects_code(client, bank):
    answer = _raw(client, bank, b'{"batch_id": "B1", ')
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == CODES[bank]
    assert "malformed JSON" in answer.json()["error"]["message"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda o: o.update(amount=12.5), "orders[0].amount"),               # a JSON number
    (lambda o: o.update(amount="12.505"), "orders[0].amount"),           # 3 decimals in CNY
    (lambda o: o.update(amount="12.5"), "orders[0].amount"),             # not exactly 2
    (lambda o: o.update(amount="1e3"), "orders[0].amount"),
    (lambda o: o.update(amount="-5.00"), "orders[0].amount"),
    (lambda o: o.update(amount="0.00"), "orders[0].amount"),
    (lambda o: o.update(instruction_id="x" * 36), "orders[0].instruction_id"),
    (lambda o: o.update(payee_name="\u202eevil"), "orders[0].payee_name"),
    (lambda o: o.update(payee_account=12345678), "orders[0].payee_account"),
    (lambda o: o.update(payee_bank="ICBC!"), "orders[0].payee_bank"),
    (lambda o: o.pop("payee_name"), "orders[0].payee_name"),
])
def test_a_bad_order_field_is_400_naming_it_and_nothing_is_booked(
        client, post, sandbox, mutate, field):
    line = order("icbc")
    mutate(line)
    answer = post("icbc", "/payments/batches", batch("icbc", line))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "E1000"
    assert error["message"].startswith(field), error["message"]
    assert sandbox.ledger.debit_bookings() == {}


@pytest.mark.parametrize(("change", "field"), [
    ({"orders": []}, "orders"),
    ({"orders": "all"}, "orders"),
    ({"currency": "XXX"}, "currency"),
    ({"execution_date": "23/11/2026"}, "execution_date"),
    ({"callback_url": "ftp://x"}, "callback_url"),
    ({"batch_id": None}, "batch_id"),
    ({"debtor_account": ["1"]}, "debtor_account"),
])
def test_a_bad_batch_field_is_400_naming_it(post, change, field):
    answer = post("cmb", "/payments/batches", {**batch("cmb", order("cmb")), **change})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(field)
    assert answer.json()["error"]["code"] == "PARAM_ERR"


def test_nan_duplicate_keys_and_non_objects_are_refused(client):
    for content in (b'{"accounts": [NaN]}', b'{"accounts": [], "accounts": ["1"]}', b"[1, 2]",
                    b"\xff\xfe", b'{"accounts": ' * 5000):
        answer = client.post("/icbc/v1/balances", content=content)
        assert answer.status_code == 400, content[:30]
        assert answer.json()["error"]["code"] == "E1000"


def test_too_many_accounts_or_ids_is_400(post):
    assert post("boc", "/balances", {"accounts": ["123456"] * 101}).status_code == 400
    assert post("boc", "/payments/status", {"instruction_ids": []}).status_code == 400


def test_a_body_over_5_mb_is_413_and_the_connection_still_works(client):
    big = b'{"accounts": ["' + b"1" * (MAX_BODY_BYTES) + b'"]}'
    answer = _raw(client, "boc", big)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "FF01"
    assert client.post("/boc/v1/balances",
                       json={"accounts": [ACCOUNTS["boc"][0]]}).status_code == 200


def test_a_request_without_content_length_is_400(sandbox):
    context = client_ssl_context(sandbox.pki)
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"POST /icbc/v1/balances HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        head = tls.recv(4096)
    assert head.startswith(b"HTTP/1.1 400")
    assert b"E1000" in head or b"Connection: close" in head


def test_plain_http_to_the_tls_port_gets_no_answer(sandbox):
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as raw:
        raw.sendall(b"GET /_sandbox/ledger HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = raw.recv(4096)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
    assert not data.startswith(b"HTTP/1.1 200")
