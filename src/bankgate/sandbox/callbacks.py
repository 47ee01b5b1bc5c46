"""Settlement and callbacks: the sandbox banks' background work.

A settler thread settles due orders about every 20 ms; each status change of a batch that
named a `callback_url` is POSTed there (hostapi-protocol.md, "Callbacks"), retried with
backoff up to 5 attempts until a 2xx, and sent `duplicate_callbacks` times concurrently with
the same `callback_id`. Each delivery is signed afresh by the bank (new timestamp and nonce),
so a retry is not a replay. The gateway's TLS is verified against the sandbox's test CA.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from bankgate.crypto.pki import TestPki, client_ssl_context
from bankgate.sandbox.dialects import Dialect
from bankgate.sandbox.faults import Faults
from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.records import StatusChange
from bankgate.sandbox.security import SandboxSecurity
from bankgate.sandbox.wire import render_callback

__all__ = ["CallbackSender", "Settler"]

log = logging.getLogger(__name__)

ATTEMPTS: Final = 5
FIRST_BACKOFF_S: Final = 0.1
SETTLE_EVERY_S: Final = 0.02


class CallbackSender:
    """Delivers callbacks on a small thread pool; `close()` stops retries at once."""

    def __init__(self, pki: TestPki, dialects: Mapping[str, Dialect], faults: Faults,
                 security: SandboxSecurity, *, timeout_s: float = 5.0) -> None:
        self._dialects = dialects
        self._faults = faults
        self._security = security
        self._stopping = threading.Event()
        # The bank presents no client certificate: the gateway's callback endpoint checks
        # the bank's signature on every callback instead.
        self._client = httpx.Client(verify=client_ssl_context(pki, with_client_cert=False),
                                    timeout=timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-callback")

    def send(self, change: StatusChange) -> None:
        """Queue the change's callback (N copies with `duplicate_callbacks`)."""
        url = change.order.callback_url
        if url is None or self._stopping.is_set():
            return
        body = render_callback(change, self._dialects[change.order.bank])
        copies = self._faults.knobs(change.order.bank).duplicate_callbacks
        for _ in range(copies):
            try:
                self._pool.submit(self._deliver, change.order.bank, url, body)
            except RuntimeError:  # the pool shut down meanwhile
                return

    def _deliver(self, bank: str, url: str, body: dict[str, Any]) -> None:
        backoff = FIRST_BACKOFF_S
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        sign = self._security.callback_signer(bank)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                headers = {"Content-Type": "application/json",
                           **sign(target or "/", data, self._faults.now(bank))}
                answer = self._client.post(url, content=data, headers=headers)
                if answer.is_success:
                    return
                log.info("callback %s to %s: HTTP %s (attempt %d)", body["callback_id"], url,
                         answer.status_code, attempt)
            except httpx.HTTPError as exc:
                log.info("callback %s to %s failed (attempt %d): %s", body["callback_id"], url,
                         attempt, exc)
            if attempt == ATTEMPTS or self._stopping.wait(backoff):
                break
            backoff *= 2
        log.warning("callback %s to %s not delivered", body["callback_id"], url)

    def close(self) -> None:
        """Stop: no new callbacks, pending retries end, the HTTP client is closed."""
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()


class Settler:
    """A thread that settles due orders and hands their status changes to `on_change`."""

    def __init__(self, ledger: Ledger, on_change: Callable[[StatusChange], None]) -> None:
        self._ledger = ledger
        self._on_change = on_change
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sandbox-settler", daemon=True)

    def start(self) -> None:
        """Start settling in the background."""
        self._thread.start()

    def settle(self, *, force: bool = False) -> int:
        """Settle due orders (every accepted one with `force`) now; how many were settled."""
        with self._lock:  # one settlement pass at a time keeps callbacks in order
            changes = self._ledger.settle_due(force=force)
            for change in changes:
                self._on_change(change)
        return len(changes)

    def _run(self) -> None:
        while not self._stopping.wait(SETTLE_EVERY_S):
            try:
                self.settle()
            except Exception:  # the thread's outermost edge: log and keep settling
                log.exception("settlement pass failed")

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
