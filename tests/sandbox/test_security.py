"""The sandbox banks' message security and mutual TLS, seen from a client on the wire.

A-01 forged requests, A-02 replays and stale timestamps, A-04 client certificates and TLS
versions, I-07 clock skew: each refused before the bank does anything, and recorded.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bankgate.crypto import client_ssl_context
from bankgate.crypto.pki import issue_certificate, issue_test_pki, load_certificate, write_crl
from bankgate.crypto.signed_http import SIGNATURE, sign_request, verify_request
from bankgate.sandbox.run import RunningSandbox, start_sandbox
from tests.sandbox.conftest import ACCOUNTS, batch, order, small_world
from tests.signing import GatewaySigning, bank_signer, gateway_signer

NOW = dt.datetime.now(dt.UTC)


def _signed(sandbox: RunningSandbox, bank: str, path: str, body: bytes, *,
            signer: Any = None, skew_s: float = 0) -> dict[str, str]:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew_s)
    return {"content-type": "application/json",
            **sign_request(signer or gateway_signer(sandbox.keys[bank]), method="POST",
                           target=f"/{bank}/v1{path}", body=body, now=when)}


def _raw_client(sandbox: RunningSandbox) -> httpx.Client:
    """Mutual TLS as the gateway, but no automatic signing: the test writes the headers."""
    return httpx.Client(base_url=sandbox.base_url, verify=client_ssl_context(sandbox.pki),
                        timeout=5.0)


def _body(bank: str, **kwargs: Any) -> tuple[bytes, dict[str, Any]]:
    import json

    line = order(bank, **kwargs)
    return json.dumps(batch(bank, line)).encode(), line


def test_A01_an_unsigned_request_is_refused_and_nothing_is_booked(sandbox):
    body, line = _body("icbc")
    with _raw_client(sandbox) as http:
        answer = http.post("/icbc/v1/payments/batches", content=body,
                           headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (401,
                                                                     "AUTH_SIGNATURE_MISSING")
    assert sandbox.ledger.debit_bookings().get(line["instruction_id"], 0) == 0


@pytest.mark.parametrize(("forgery", "code"), [
    ("another key", "AUTH_UNKNOWN_KEY"),
    ("body changed after signing", "AUTH_DIGEST_MISMATCH"),
    ("path changed after signing", "AUTH_SIGNATURE_INVALID"),
    ("signature of another request", "AUTH_SIGNATURE_INVALID"),
    ("algorithm swapped", "AUTH_WRONG_ALGORITHM"),
])
def test_A01_a_forged_request_is_refused_with_its_key_id_recorded(sandbox, forgery, code):
    body, line = _body("boc")
    headers = _signed(sandbox, "boc", "/payments/batches", body)
    path = "/boc/v1/payments/batches"
    if forgery == "another key":  # the bank's own key is not a registered client key
        headers = _signed(sandbox, "boc", "/payments/batches", body,
                          signer=bank_signer(sandbox.keys["boc"]))
    elif forgery == "body changed after signing":
        body = body.replace(b'"100.00"', b'"900.00"')
    elif forgery == "path changed after signing":
        headers = _signed(sandbox, "boc", "/payments/status", body)
    elif forgery == "signature of another request":
        other, _ = _body("boc")
        headers[SIGNATURE] = _signed(sandbox, "boc", "/payments/batches", other)[SIGNATURE]
    elif forgery == "algorithm swapped":
        headers["X-Bg-Algorithm"] = "RSA-SHA256"
    with _raw_client(sandbox) as http:
        answer = http.post(path, content=body, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, code)
    assert sandbox.ledger.debit_bookings().get(line["instruction_id"], 0) == 0
    refused = sandbox.security.refusals[-1]
    assert (refused.bank, refused.code, refused.key_id) == ("boc", code,
                                                            headers["X-Bg-Key-Id"])


def test_A02_a_captured_request_sent_again_is_refused_and_booked_once(sandbox):
    body, line = _body("cmb")
    headers = _signed(sandbox, "cmb", "/payments/batches", body)
    with _raw_client(sandbox) as http:
        first = http.post("/cmb/v1/payments/batches", content=body, headers=headers)
        again = http.post("/cmb/v1/payments/batches", content=body, headers=headers)
    assert first.status_code == 200
    assert (again.status_code, again.json()["error"]["code"]) == (401, "AUTH_NONCE_REPLAYED")
    assert sandbox.ledger.debit_bookings()[line["instruction_id"]] == 1


@pytest.mark.parametrize("skew_s", [-290, 290])  # margin: timestamps are whole seconds
def test_I07_a_request_inside_the_window_is_accepted(sandbox, skew_s):
    body = b'{"accounts": ["%s"]}' % ACCOUNTS["icbc"][0].encode()
    with _raw_client(sandbox) as http:
        answer = http.post("/icbc/v1/balances", content=body,
                           headers=_signed(sandbox, "icbc", "/balances", body, skew_s=skew_s))
    assert answer.status_code == 200


@pytest.mark.parametrize("skew_s", [-310, 310, -86400])
def test_I07_A02_a_request_outside_the_window_is_refused_as_clock_skew(sandbox, skew_s):
    """Outside ±300 s: a skewed clock, or an old request resent later (A-02)."""
    body = b'{"accounts": ["%s"]}' % ACCOUNTS["icbc"][0].encode()
    with _raw_client(sandbox) as http:
        answer = http.post("/icbc/v1/balances", content=body,
                           headers=_signed(sandbox, "icbc", "/balances", body, skew_s=skew_s))
    error = answer.json()["error"]
    assert (answer.status_code, error["code"]) == (401, "AUTH_CLOCK_SKEW")
    assert "clock skew" in error["message"] and "±300 s" in error["message"]


def test_I07_the_banks_clock_knob_moves_the_window(sandbox, client):
    """`faketime` for the bank, in-process: the bank's clock 10 minutes ahead refuses us."""
    sandbox.set_faults(bank="icbc", clock_offset_s=600)
    answer = client.post("/icbc/v1/balances", json={"accounts": [ACCOUNTS["icbc"][0]]})
    assert answer.json()["error"]["code"] == "AUTH_CLOCK_SKEW"
    assert "behind our clock" in answer.json()["error"]["message"]
    sandbox.set_faults(bank="icbc", clock_offset_s=200)
    assert client.post("/icbc/v1/balances",
                       json={"accounts": [ACCOUNTS["icbc"][0]]}).status_code == 200


def test_every_answer_is_signed_by_the_bank_and_bound_to_the_request(sandbox):
    from bankgate.crypto.keyfiles import load_verifier
    from bankgate.crypto.signed_http import NONCE, verify_response

    keys = sandbox.keys["cmb"]
    verifier = load_verifier(keys.bank.public_file, keys.algorithm, where="cmb")
    body = b'{"accounts": ["%s"]}' % ACCOUNTS["cmb"][0].encode()
    headers = _signed(sandbox, "cmb", "/balances", body)
    with _raw_client(sandbox) as http:
        answer = http.post("/cmb/v1/balances", content=body, headers=headers)
        refused = http.post("/cmb/v1/balances", content=body, headers=headers)  # replay: 401
    for response in (answer, refused):
        assert response.headers["X-Bg-Algorithm"] == "SM2-SM3"
        verify_response(response.headers, status=response.status_code, method="POST",
                        target="/cmb/v1/balances", request_nonce=headers[NONCE],
                        body=response.content, verifiers={verifier.key_id: verifier})
    from bankgate.crypto.signed_http import SignatureRefused

    with pytest.raises(SignatureRefused):  # bound to our nonce: not an answer to another
        verify_response(answer.headers, status=200, method="POST", target="/cmb/v1/balances",
                        request_nonce="0" * 32, body=answer.content,
                        verifiers={verifier.key_id: verifier})


def test_callbacks_are_signed_by_the_bank(sandbox, client):
    """Each delivery carries a fresh signature the gateway can verify with the bank's key."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bankgate.crypto import server_ssl_context
    from bankgate.crypto.keyfiles import load_verifier

    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_ssl_context(sandbox.pki).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        sandbox.set_faults(bank="icbc", duplicate_callbacks=2)
        url = f"https://127.0.0.1:{server.server_address[1]}/api/v1/callbacks/icbc"
        client.post("/icbc/v1/payments/batches", json=batch("icbc", order("icbc"),
                                                             callback_url=url))
        sandbox.settle_now()
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        while len(got) < 2 and dt.datetime.now(dt.UTC) < deadline:
            threading.Event().wait(0.02)
    finally:
        server.shutdown()
        server.server_close()
    keys = sandbox.keys["icbc"]
    verifier = load_verifier(keys.bank.public_file, keys.algorithm, where="icbc")

    class Lookup(dict):
        def get(self, name: str, default: Any = None) -> Any:
            return {k.lower(): v for k, v in self.items()}.get(name.lower(), default)

    nonces = {verify_request(Lookup(h), method="POST", target="/api/v1/callbacks/icbc",
                             body=b, verifiers={verifier.key_id: verifier},
                             now=dt.datetime.now(dt.UTC)).nonce for h, b in got}
    assert len(got) == 2 and len(nonces) == 2  # duplicates, each signed afresh


# -- mutual TLS ---------------------------------------------------------------------------


def _context_with(sandbox: RunningSandbox, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(sandbox.pki.ca_cert))
    context.load_cert_chain(str(cert), str(key))
    return context


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bankgate gateway client")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "self.pem", directory / "self-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _refused(sandbox: RunningSandbox, context: ssl.SSLContext) -> None:
    with httpx.Client(verify=context, auth=GatewaySigning(sandbox.keys), timeout=5) as http, \
            pytest.raises(httpx.TransportError):
        http.post(f"{sandbox.base_url}/icbc/v1/balances",
                  json={"accounts": [ACCOUNTS["icbc"][0]]})


@pytest.fixture
def revoking_sandbox(tmp_path: Path) -> Iterator[tuple[RunningSandbox, Path, Path]]:
    """A sandbox whose CA revoked one client certificate before it started."""
    pki = issue_test_pki(tmp_path)
    cert, key = issue_certificate(pki, "revoked-client", not_before=NOW - dt.timedelta(days=1),
                                  not_after=NOW + dt.timedelta(days=30))
    write_crl(pki, [load_certificate(cert)])
    with start_sandbox(small_world(), state_dir=tmp_path, settle_delay_s=0.05) as running:
        yield running, cert, key


def test_A04_clients_without_a_valid_certificate_from_our_ca_are_refused(sandbox, tmp_path):
    """No certificate, self-signed, another CA, expired, not yet valid, serverAuth-only."""
    no_cert = client_ssl_context(sandbox.pki, with_client_cert=False)
    self_signed = _context_with(sandbox, *_self_signed(tmp_path))
    other = issue_test_pki(tmp_path / "other")
    untrusted = _context_with(sandbox, other.client_cert, other.client_key)
    expired = _context_with(sandbox, *issue_certificate(
        sandbox.pki, "expired-client", not_before=NOW - dt.timedelta(days=60),
        not_after=NOW - dt.timedelta(days=1)))
    early = _context_with(sandbox, *issue_certificate(
        sandbox.pki, "early-client", not_before=NOW + dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=60)))
    wrong_usage = _context_with(sandbox, sandbox.pki.server_cert, sandbox.pki.server_key)
    for context in (no_cert, self_signed, untrusted, expired, early, wrong_usage):
        _refused(sandbox, context)
    with httpx.Client(verify=client_ssl_context(sandbox.pki), auth=GatewaySigning(sandbox.keys),
                      timeout=5) as http:  # the real client certificate still works
        assert http.post(f"{sandbox.base_url}/icbc/v1/balances",
                         json={"accounts": [ACCOUNTS["icbc"][0]]}).status_code == 200


def test_A04_a_revoked_client_certificate_is_refused(revoking_sandbox):
    sandbox, cert, key = revoking_sandbox
    _refused(sandbox, _context_with(sandbox, cert, key))
    with httpx.Client(verify=client_ssl_context(sandbox.pki), auth=GatewaySigning(sandbox.keys),
                      timeout=5) as http:  # an unrevoked certificate of the same CA works
        assert http.post(f"{sandbox.base_url}/icbc/v1/balances",
                         json={"accounts": [ACCOUNTS["icbc"][0]]}).status_code == 200


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_A04_tls_1_0_and_1_1_are_refused(sandbox, version):
    """The server's floor is TLS 1.2; a client offering at most 1.0 or 1.1 gets nothing."""
    import warnings

    assert sandbox._server.tls.minimum_version is ssl.TLSVersion.TLSv1_2
    context = client_ssl_context(sandbox.pki)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the old versions are deprecated
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = getattr(ssl.TLSVersion, version)
        try:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client at least try
        except ssl.SSLError:
            pass
    _refused(sandbox, context)
