"""The front-end processor (前置机) and the direct-connect bank behind it, as real servers.

    gateway ──HTTP, GBK XML──▶ front-end (127.0.0.1) ──mTLS, SM2-signed──▶ bank (directbank)

The front-end holds the company's token key (SM2-SM3; the same key the bank registered for
the company) and the bank's public key. It checks that a package is readable XML, signs it
(`signed_http`: timestamp, nonce, SM3 digest), forwards it, verifies the bank's signed
answer and relays the answer's bytes unchanged. What it cannot do it says in its own
package: RETCOD -4 (bank unreachable, nothing sent), -5 (the answer failed verification),
-6 (the answer was lost after sending), -1 (not a readable package). The bank refuses
unsigned, forged, stale or replayed packages with RETCOD -3 before it does anything.
Fault knobs (`faults.py`) apply to the bank: busy, error_after_booking, drop_after_accept,
sleep_after_accept, bad_xml, forged_answer, unsigned_answer.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, cast

import httpx

from bankgate.crypto.keyfiles import load_signer, load_verifier
from bankgate.crypto.pki import TestPki, client_ssl_context
from bankgate.crypto.signed_http import (
    NONCE,
    SignatureRefused,
    StaleOrReplayed,
    sign_request,
    verify_response,
)
from bankgate.errors import FormatError
from bankgate.formats.cn_directconnect import MAX_PACKAGE_BYTES, read_package
from bankgate.sandbox.directbank import BankRefusal, DirectBank
from bankgate.sandbox.faults import Fault, Faults, Op
from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.security import PartyKeys, SandboxSecurity, mtls_server_context

__all__ = ["FRONTEND_DIALECTS", "FrontendSide", "frontend_banks_config"]

log = logging.getLogger(__name__)

#: Dialects whose banks the sandbox also offers behind a front-end processor.
FRONTEND_DIALECTS: Final = frozenset({"cmb"})
_DROP: Final = object()


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handle: Callable[[Any, bytes], _Reply | object],
                 tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.handle_body = handle
        self.tls = tls

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is None:
            return sock, address
        return self.tls.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bankgate-sandbox-frontend/1"
    timeout = 60

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_PACKAGE_BYTES:
            self.close_connection = True
            self._write(_Reply(413, b"", {}))
            return
        reply = cast(_Server, self.server).handle_body(self, self.rfile.read(int(length)))
        if reply is _DROP:
            self.close_connection = True
            self.request.shutdown(socket.SHUT_RDWR)
            return
        self._write(cast(_Reply, reply))

    def _write(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/xml; charset=GBK")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


class FrontendSide:
    """Per front-end bank: the bank's server and the company's front-end server."""

    def __init__(self, *, pki: TestPki, ledger: Ledger, faults: Faults,
                 security: SandboxSecurity, keys: Mapping[str, PartyKeys],
                 banks: Mapping[str, str]) -> None:
        self._faults, self._security = faults, security
        self._servers: list[_Server] = []
        self._urls: dict[str, str] = {}
        self._bank_urls: dict[str, str] = {}
        self._http = httpx.Client(verify=client_ssl_context(pki), timeout=10.0)
        for bank, dialect in banks.items():
            if dialect not in FRONTEND_DIALECTS:
                continue
            direct = DirectBank(ledger, bank, partial(faults.now, bank))
            bank_server = _Server(partial(self._bank, bank=bank, direct=direct),
                                  mtls_server_context(pki))
            bank_url = f"https://127.0.0.1:{bank_server.server_address[1]}/{bank}/directconnect"
            front = _Frontend(self._http, bank_url, keys[bank])
            front_server = _Server(front.relay, None)
            self._servers += [bank_server, front_server]
            self._urls[bank] = f"http://127.0.0.1:{front_server.server_address[1]}/"
            self._bank_urls[bank] = bank_url

    def url(self, bank: str) -> str:
        """The front-end's address for `bank` (KeyError when it has none)."""
        return self._urls[bank]

    def bank_url(self, bank: str) -> str:
        """The direct-connect bank's own address (only its front-end may call it)."""
        return self._bank_urls[bank]

    @property
    def banks(self) -> list[str]:
        """Banks reachable through a front-end."""
        return sorted(self._urls)

    def start(self) -> None:
        """Serve in background threads."""
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name="sandbox-frontend", daemon=True).start()

    def stop(self) -> None:
        """Stop serving and close sockets."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._http.close()

    def _bank(self, handler: _Handler, body: bytes, *, bank: str,
              direct: DirectBank) -> _Reply | object:
        target, nonce = handler.path, (handler.headers.get(NONCE) or "").strip()[:64]
        now = self._faults.now(bank)

        def reply(data: bytes, fault: Fault | None = None) -> _Reply:
            if fault is Fault.UNSIGNED_ANSWER:
                return _Reply(200, data, {})
            return _Reply(200, data, self._security.sign_answer(
                bank, status=200, method="POST", target=target, request_nonce=nonce,
                body=data, now=now, impostor=fault is Fault.FORGED_ANSWER))

        try:
            self._security.check(bank, handler.headers, method="POST", target=target,
                                 body=body, now=now)
            package = read_package(body, f"{bank}/directconnect")
            op = Op(direct.op_of(package))
        except (SignatureRefused, StaleOrReplayed) as refused:
            return reply(DirectBank.refusal("", "-3", str(refused)))
        except FormatError as exc:
            return reply(DirectBank.refusal("", "-1", f"not a readable package: {exc}"))
        except BankRefusal as refusal:
            return reply(DirectBank.refusal("", refusal.retcod, refusal.message))
        return self._with_faults(bank, op, package, direct, reply)

    def _with_faults(self, bank: str, op: Op, package: Any, direct: DirectBank,
                     reply: Callable[..., _Reply]) -> _Reply | object:
        decision = self._faults.decide(bank, op)
        if decision.fault in (Fault.BUSY, Fault.RATE_LIMITED):
            return reply(DirectBank.refusal(package.function, "-9", "busy; nothing was done"))
        answer = direct.answer(package)
        if decision.fault is Fault.DROP_AFTER_ACCEPT:
            return _DROP
        if decision.fault is Fault.ERROR_AFTER_BOOKING:
            return reply(DirectBank.refusal(package.function, "-2", "internal error after "
                                            "the work was done"))
        if decision.fault is Fault.SLEEP_AFTER_ACCEPT:
            threading.Event().wait(self._faults.knobs(bank).sleep_after_accept_s)
        if decision.fault is Fault.BAD_XML:
            return reply(b"<CMBSDKPGK><INFO><FUNNAM>" + answer[:40] + b"&bogus;</CMBSDK")
        return reply(answer, decision.fault)


class _Frontend:
    """The company's front-end: sign with the token, forward, verify the bank's answer."""

    def __init__(self, http: httpx.Client, bank_url: str, keys: PartyKeys) -> None:
        self._http, self._url = http, bank_url
        self._target = "/" + bank_url.split("/", 3)[3]
        self._token = load_signer(keys.gateway.key_file, keys.algorithm,
                                  password_file=keys.gateway.password_file,
                                  where="front-end token")
        verifier = load_verifier(keys.bank.public_file, keys.algorithm, where="bank key")
        self._bank_keys = {verifier.key_id: verifier}

    def relay(self, _handler: Any, body: bytes) -> _Reply:
        from datetime import UTC, datetime

        try:
            function = read_package(body, "gateway package").function
        except FormatError as exc:
            return _own("", "-1", f"not a readable package: {exc}")
        signed = sign_request(self._token, method="POST", target=self._target, body=body,
                              now=datetime.now(UTC))
        try:
            answer = self._http.post(self._url, content=body,
                                     headers={**signed, "Content-Type": "application/xml"})
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return _own(function, "-4", f"cannot reach the bank: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return _own(function, "-6", f"the bank's answer was lost: {type(exc).__name__}")
        try:
            verify_response(answer.headers, status=answer.status_code, method="POST",
                            target=self._target, request_nonce=signed[NONCE],
                            body=answer.content, verifiers=self._bank_keys)
        except SignatureRefused as exc:
            log.warning("bank answer failed verification at the front-end",
                        extra={"code": exc.failure.value, "key_id": exc.key_id})
            return _own(function, "-5", f"the bank's answer is not signed by the bank: "
                        f"{exc.failure.value}")
        return _Reply(200, answer.content, {})


def _own(function: str, retcod: str, message: str) -> _Reply:
    """A package the front-end writes itself (it is not the bank's answer)."""
    return _Reply(200, DirectBank.refusal(function, retcod, message), {})


def frontend_banks_config(running: Any, *, timeout_s: float) -> dict[str, dict[str, Any]]:
    """Gateway configuration for every bank the sandbox offers behind a front-end (the demo
    reaches `cmb` this way: 前置机, GBK XML, the token's SM2 signature)."""
    return {bank: {**running.frontend_options(bank), "timeout_s": timeout_s}
            for bank in running.frontends.banks}
