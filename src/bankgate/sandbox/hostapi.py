"""The sandbox banks' HTTPS server: every bank of the world under `/<bank>/v1`.

A stdlib `ThreadingHTTPServer` wrapped in TLS by hand, so that the socket is ours: a
`drop_after_accept` fault really closes the TCP connection after booking without a byte of
answer. HTTP/1.1 with keep-alive and Content-Length; bodies are JSON up to 5 MB.
Endpoints and codes: docs/hostapi-protocol.md.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, cast
from urllib.parse import parse_qs, urlsplit

from bankgate.crypto.signed_http import NONCE, SignatureRefused, StaleOrReplayed
from bankgate.sandbox import wire
from bankgate.sandbox.dialects import Dialect, ErrorMeaning
from bankgate.sandbox.faults import Fault, Faults, Op
from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.load import BankLoad
from bankgate.sandbox.receipts import answer_receipts, answer_verify_receipt
from bankgate.sandbox.records import Order, Refusal
from bankgate.sandbox.security import SandboxSecurity
from bankgate.sandbox.verify import answer_verify

__all__ = ["MAX_BODY_BYTES", "HostApiServer", "SandboxContext"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 5 * 1024 * 1024
MAX_RANGE_DAYS: Final = 366
_HANDSHAKE_TIMEOUT_S: Final = 10.0
_IDLE_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class SandboxContext:
    """What the request handlers work with."""

    ledger: Ledger
    faults: Faults
    dialects: Mapping[str, Dialect]
    settle: Callable[[bool], int]  # settle(force) → orders settled
    stopping: threading.Event
    security: SandboxSecurity
    portal: Callable[[str, str, bool, str | None], Order]  # second confirmation (B-19)
    load: BankLoad = field(default_factory=BankLoad)  # requests in hand (B-16)


class _Dropped(Exception):
    """The connection was closed on purpose (drop_after_accept); nothing more to write."""


class HostApiServer(ThreadingHTTPServer):
    """The HTTPS server of all sandbox banks; TLS handshakes run in the handler threads."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], context: SandboxContext,
                 tls: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.context = context
        self.tls = tls
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection and wrap it in TLS; the handshake happens in its thread."""
        sock, address = self.socket.accept()
        # Headers and body are two writes: without NODELAY, Nagle meets delayed ACK (40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wrapped = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._open_lock:
            self._open.add(wrapped)
        return wrapped, address

    def shutdown_request(self, request: Any) -> None:
        """Close a connection and forget it."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log (not print) what went wrong with one connection."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut every open connection so that handler threads blocked in a read end."""
        with self._open_lock:
            open_ = list(self._open)
        for sock in open_:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bankgate-sandbox/1"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S
    _answering: tuple[str, str, str, str] | None = None  # bank, method, target, nonce
    _forgery: Fault | None = None  # a B-15 fault for this answer

    @property
    def ctx(self) -> SandboxContext:
        return cast(HostApiServer, self.server).context

    def setup(self) -> None:
        conn = cast(ssl.SSLSocket, self.request)
        conn.settimeout(_HANDSHAKE_TIMEOUT_S)
        conn.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path)
        segments = [s for s in path.path.split("/") if s]
        dialect = self.ctx.dialects.get(segments[0]) if segments else None
        is_bank = dialect is not None and segments[1:2] == ["v1"]
        # Every answer of a bank endpoint is signed by that bank, bound to the request's
        # nonce (docs/hostapi-protocol.md, Signatures); refusals included.
        self._answering = (segments[0], method, self.path,
                           (self.headers.get(NONCE) or "").strip()[:64]) if is_bank else None
        try:
            body = self._body() if method == "POST" else b""
            if segments[:1] == ["_sandbox"]:
                self._admin(method, segments[1:], body)
            elif dialect is not None and is_bank:
                bank = segments[0]
                self.ctx.security.check(bank, self.headers, method=method, target=self.path,
                                        body=body, now=self.ctx.faults.now(bank))
                self._bank(method, bank, dialect, segments[2:], path.query, body)
            else:
                self._send(404, wire.error_body("not_found", f"no bank at {path.path}"))
        except Refusal as refusal:
            code = dialect.error(refusal.meaning) if dialect else refusal.meaning.value
            self._send(refusal.http_status, wire.error_body(code, refusal.message))
        except (SignatureRefused, StaleOrReplayed) as refused:
            self._send(401, wire.error_body(refused.failure.value, str(refused)))
        except _Dropped:
            return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST,
                          "Transfer-Encoding is not supported; send Content-Length")
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.isdigit():
            self.close_connection = True
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST,
                          f"Content-Length: {raw!r} is not a byte count")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            self._discard(length)
            raise Refusal(413, ErrorMeaning.INVALID_REQUEST,
                          f"body: {length} bytes, at most {MAX_BODY_BYTES} allowed")
        return self.rfile.read(length)

    def _discard(self, length: int) -> None:
        """Read and drop an oversized body so that the client can read our 413; a body
        beyond twice the limit is not worth reading: the connection is closed instead."""
        if length > 2 * MAX_BODY_BYTES:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                self.close_connection = True
                return
            length -= len(chunk)

    def _send(self, status: int, body: Mapping[str, Any],
              headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if self._answering is not None and self._forgery is not Fault.UNSIGNED_ANSWER:
            bank, method, target, nonce = self._answering
            signed = self.ctx.security.sign_answer(
                bank, status=status, method=method, target=target, request_nonce=nonce,
                body=data, now=self.ctx.faults.now(bank),
                impostor=self._forgery is Fault.FORGED_ANSWER)
            for name, value in signed.items():
                self.send_header(name, value)
        self._forgery = None
        self.send_header("Content-Length", str(len(data)))
        request_id = self.headers.get("X-Request-Id")
        if request_id and len(request_id) <= 200 and request_id.isprintable():
            self.send_header("X-Request-Id", request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the TCP connection without an answer (no TLS close_notify either)."""
        self.close_connection = True
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.request.close()
        raise _Dropped

    # -- bank endpoints ------------------------------------------------------------------------

    def _bank(self, method: str, bank: str, dialect: Dialect, route: list[str], query: str,
              body: bytes) -> None:
        op, answer = self._route(method, bank, route, query)
        with self.ctx.load.call(op.value, self.request):
            self._answer(bank, dialect, op, answer, body)

    def _answer(self, bank: str, dialect: Dialect, op: Op,
                answer: Callable[[bytes, Dialect], dict[str, Any]], body: bytes) -> None:
        decision = self.ctx.faults.decide(bank, op)
        if decision.latency_s:
            self.ctx.stopping.wait(decision.latency_s)
        knobs = self.ctx.faults.knobs(bank)
        if decision.fault is Fault.BUSY:
            raise Refusal(503, ErrorMeaning.BUSY, f"{bank} is busy; nothing was done, retry")
        if decision.fault is Fault.RATE_LIMITED:
            self._send(429, wire.error_body(dialect.error(ErrorMeaning.RATE_LIMITED),
                                            "too many requests; nothing was done"),
                       {"Retry-After": str(knobs.retry_after_s)})
            return
        if op is Op.SUBMIT:
            self._presented(bank, body, knobs.retry_window_s)
        if decision.fault is Fault.DROP_BEFORE_ACCEPT:
            self._drop()  # nothing done
        result = answer(body, dialect)
        if decision.fault is Fault.DROP_AFTER_ACCEPT:
            self._drop()
        if decision.fault is Fault.ERROR_AFTER_BOOKING:
            raise Refusal(500, ErrorMeaning.INTERNAL, "internal error after the work was done")
        if decision.fault is Fault.SLEEP_AFTER_ACCEPT:
            self.ctx.stopping.wait(knobs.sleep_after_accept_s)
        if decision.fault in (Fault.FORGED_ANSWER, Fault.UNSIGNED_ANSWER):
            self._forgery = decision.fault
        self._send(200, result)

    def _presented(self, bank: str, body: bytes, window_s: float) -> None:
        """A submit reached the bank's door (it may still be lost): count its instruction ids
        (B-16); a batch id first presented over `window_s` ago is refused, nothing done (B-06).
        """
        try:
            request = wire.parse_batch(wire.load_json(body))
        except Refusal:
            return  # the submit itself says what is wrong with it
        self.ctx.load.submitted(line.instruction_id for line in request.orders)
        batch_id = request.batch_id
        age_s = time.monotonic() - self.ctx.load.first_seen(bank, batch_id)
        if window_s and age_s > window_s:
            raise Refusal(409, ErrorMeaning.RETRY_WINDOW_EXPIRED,
                          f"batch_id {batch_id} was first presented {age_s:.1f} s ago, past "
                          f"the {window_s:g} s retry window; nothing was done")

    def _route(self, method: str, bank: str, route: list[str],
               query: str) -> tuple[Op, Callable[[bytes, Dialect], dict[str, Any]]]:
        match method, route:
            case "POST", ["balances"]:
                return Op.BALANCES, lambda body, d: self._balances(bank, body)
            case "GET", ["accounts", number, "transactions"]:
                return Op.TRANSACTIONS, lambda body, d: self._transactions(bank, number, query)
            case "GET", ["accounts", number, "statement"]:
                return Op.STATEMENT, lambda body, d: self._statement(bank, number, query)
            case "POST", ["payments", "batches"]:
                return Op.SUBMIT, lambda body, d: self._submit(bank, body, d)
            case "POST", ["payments", "status"]:
                return Op.STATUS, lambda body, d: self._status(bank, body, d)
            case "POST", ["accounts", "verify"]:  # sandbox/verify.py
                return Op.VERIFY, lambda body, d: answer_verify(
                    self.ctx.ledger, self.ctx.dialects.keys(), bank, body)
            case "GET", ["accounts", number, "receipts"]:  # sandbox/receipts.py
                return Op.RECEIPTS, lambda body, d: answer_receipts(
                    self.ctx.ledger, bank, number, _query(query, ("date",))["date"])
            case "POST", ["receipts", "verify"]:
                return Op.RECEIPTS, lambda body, d: answer_verify_receipt(
                    self.ctx.ledger, bank, body)
        raise Refusal(404, ErrorMeaning.INVALID_REQUEST,
                      f"no endpoint {method} /{bank}/v1/{'/'.join(route)}")

    def _balances(self, bank: str, body: bytes) -> dict[str, Any]:
        numbers = wire.parse_balances(wire.load_json(body))
        now = self.ctx.faults.now(bank)
        return {"balances": [wire.render_balance(state, now)
                             for state in self.ctx.ledger.balances(bank, numbers)]}

    def _transactions(self, bank: str, number: str, query: str) -> dict[str, Any]:
        params = _query(query, ("from", "to"))
        since = wire.parse_date(params["from"], "from")
        until = wire.parse_date(params["to"], "to")
        if since > until or (until - since).days >= MAX_RANGE_DAYS:
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST,
                          f"from/to: {since}..{until} is not a range of 1 to "
                          f"{MAX_RANGE_DAYS} days")
        state = self.ctx.ledger.account(bank, number)
        entries = self.ctx.ledger.entries(bank, number, since, until)
        return {"account": number, "currency": state.currency,
                "entries": [wire.render_entry(b, state.currency) for b in entries]
                + [wire.render_pending(order, state.currency, on)  # credits in transit
                   for on, order in self.ctx.ledger.pending_credits(bank, number, since, until)]}

    def _statement(self, bank: str, number: str, query: str) -> dict[str, Any]:
        on = wire.parse_date(_query(query, ("date",))["date"], "date")
        view = self.ctx.ledger.statement(bank, number, on)
        code = view.account.currency
        return {"account": number, "currency": code, "date": on.isoformat(),
                "opening": wire.amount_text(view.opening_minor, code),
                "closing": wire.amount_text(view.closing_minor, code),
                "entries": [wire.render_entry(b, code) for b in view.entries]}

    def _submit(self, bank: str, body: bytes, dialect: Dialect) -> dict[str, Any]:
        data = wire.load_json(body)
        request = wire.parse_batch(data)
        answer = self.ctx.ledger.submit(bank, request, body_hash=wire.body_hash(data))
        return wire.render_answer(answer, dialect)

    def _status(self, bank: str, body: bytes, dialect: Dialect) -> dict[str, Any]:
        ids = wire.parse_status(wire.load_json(body))
        orders = self.ctx.ledger.status(bank, ids)
        return {"orders": [wire.render_status(iid, order, dialect)
                           for iid, order in zip(ids, orders, strict=True)]}

    # -- /_sandbox -----------------------------------------------------------------------------

    def _admin(self, method: str, route: list[str], body: bytes) -> None:
        match method, route:
            case "GET", ["ledger"]:
                self._send(200, _ledger_snapshot(self.ctx.ledger))
            case "POST", ["faults"]:
                self._send(200, self._set_faults(wire.load_json(body), "bank"))
            case "POST", ["clock"]:
                data = wire.load_json(body)
                if "offset_s" not in data:
                    raise Refusal(400, ErrorMeaning.INVALID_REQUEST, "offset_s: missing")
                data["clock_offset_s"] = data.pop("offset_s")
                self._send(200, self._set_faults(data, "bank"))
            case "POST", ["settle"]:
                self._send(200, {"settled": self.ctx.settle(True)})
            case "POST", ["portal"]:
                self._send(200, self._portal(wire.load_json(body)))
            case _:
                raise Refusal(404, ErrorMeaning.INVALID_REQUEST,
                              f"no endpoint {method} /_sandbox/{'/'.join(route)}")

    def _portal(self, data: dict[str, Any]) -> dict[str, Any]:
        """The customer's second confirmation in the bank's portal (网银二次确认, B-19)."""
        bank, iid = data.get("bank"), data.get("instruction_id")
        decision, reason = data.get("decision"), data.get("reason")
        if not isinstance(bank, str) or bank not in self.ctx.dialects:
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST, f"bank: no sandbox bank {bank!r}")
        if not isinstance(iid, str) or decision not in ("confirm", "refuse"):
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST,
                          "instruction_id (text) and decision (confirm or refuse) are required")
        if reason is not None and not isinstance(reason, str):
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST, "reason: expected text")
        order = self.ctx.portal(bank, iid, decision == "confirm", reason)
        return wire.render_status(iid, order, self.ctx.dialects[bank])

    def _set_faults(self, data: dict[str, Any], bank_key: str) -> dict[str, Any]:
        bank = data.pop(bank_key, None)
        if bank is not None and bank not in self.ctx.dialects:
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST, f"bank: no sandbox bank {bank!r}")
        try:
            knobs = self.ctx.faults.set(bank, **data)
        except (TypeError, ValueError) as exc:
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST, str(exc)) from exc
        return {"bank": bank, "faults": {name: getattr(knobs, name)
                                         for name in knobs.__dataclass_fields__}}


def _query(query: str, names: tuple[str, ...]) -> dict[str, str]:
    params = parse_qs(query, keep_blank_values=True)
    found = {}
    for name in names:
        values = params.get(name, [])
        if len(values) != 1:
            raise Refusal(400, ErrorMeaning.INVALID_REQUEST,
                          f"{name}: give exactly one, got {len(values)}")
        found[name] = values[0]
    return found


def _ledger_snapshot(ledger: Ledger) -> dict[str, Any]:
    """Every account with its balance, debit bookings per instruction id, and the sums."""
    accounts = ledger.accounts()
    totals: dict[str, int] = {}
    for state in accounts:
        totals[state.currency] = totals.get(state.currency, 0) + state.balance_minor
    return {"accounts": [{"bank": s.bank, "number": s.number, "holder": s.holder,
                          "currency": s.currency, "kind": s.kind.value, "open": s.open,
                          "balance": wire.amount_text(s.balance_minor, s.currency)}
                         for s in accounts],
            "bookings": ledger.debit_bookings(),
            "totals": {code: wire.amount_text(minor, code) for code, minor in totals.items()},
            "total_minor": ledger.total_minor(),
            "opening_total_minor": ledger.opening_total_minor()}
