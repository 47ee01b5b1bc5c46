"""I-10 / A-04: a bank whose TLS certificate has expired is refused in the handshake, and the
refusal says so (CertificateExpired: nothing was sent), so dispatch and sync raise an alert
instead of retrying a "bank unavailable" forever. A real TLS server on 127.0.0.1."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bankgate.connectors.http import HttpSettings, classify_transport_errors, make_client
from bankgate.crypto.pki import TestPki, Usage, issue_certificate, issue_test_pki
from bankgate.errors import BankUnavailable, CertificateExpired

NOW = datetime.now(UTC)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _bank(pki: TestPki, *, not_after: datetime) -> Iterator[str]:
    cert, key = issue_certificate(pki, f"bank-{not_after:%Y%m%d}", usage=Usage.SERVER,
                                  not_before=NOW - timedelta(days=400), not_after=not_after,
                                  hosts=["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _get(pki: TestPki, url: str) -> int:
    client = make_client(HttpSettings(ca_file=pki.ca_cert, connect_timeout_s=2.0))
    try:
        with classify_transport_errors(peer="bank icbc"):
            return client.get(url).status_code
    finally:
        client.close()


def test_i10_a_bank_certificate_that_expired_is_named_as_such(tmp_path: Path) -> None:
    pki = issue_test_pki(tmp_path / "pki")
    with _bank(pki, not_after=NOW - timedelta(days=1)) as url, pytest.raises(
            CertificateExpired, match="cannot reach bank icbc: its TLS certificate has "
                                      "expired; nothing was sent") as refused:
        _get(pki, url)
    assert isinstance(refused.value, BankUnavailable)  # safe to retry once renewed
    assert refused.value.subject == "bank icbc TLS certificate"


def test_a_valid_bank_certificate_is_accepted(tmp_path: Path) -> None:
    pki = issue_test_pki(tmp_path / "pki")
    with _bank(pki, not_after=NOW + timedelta(days=30)) as url:
        assert _get(pki, url) == 200
