"""What the sandbox banks have in hand: requests in flight, the most at once, submissions.

A slow bank (B-16) keeps working on a request after the caller gave up on it, so the bank's
own count of requests in flight is one figure and the count of those whose caller is still
on the line (its connection not closed) another: the second is the gateway's concurrency as
the bank sees it. HTTP/1.1 without pipelining sends nothing while it waits for an answer, so
a connection that has become readable in the meantime has been closed by its caller (FIN,
RST or TLS close_notify).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["BankLoad", "LoadFigures"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadFigures:
    """The load figures at one moment."""

    in_flight: int
    peak: int  # most requests in the bank's hands at once, callers gone or not
    peak_attended: int  # most at once whose caller was still waiting for the answer
    calls: dict[str, int]  # requests by operation
    submissions: dict[str, int]  # instruction id → submit requests that carried it


class BankLoad:
    """Thread-safe counters of the requests the banks are working on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, socket.socket] = {}
        self._peak = 0
        self._peak_attended = 0
        self._calls: Counter[str] = Counter()
        self._submissions: Counter[str] = Counter()
        self._first_seen: dict[tuple[str, str], float] = {}

    @contextmanager
    def call(self, op: str, conn: socket.socket) -> Iterator[None]:
        """Count one request from its arrival until its answer is written (or given up)."""
        key = id(conn)
        with self._lock:
            self._open[key] = conn
            self._calls[op] += 1
            self._peak = max(self._peak, len(self._open))
            # The attended count only grows when a request arrives: measuring here is enough.
            self._peak_attended = max(self._peak_attended,
                                      sum(1 for s in self._open.values() if _attended(s)))
        try:
            yield
        finally:
            with self._lock:
                self._open.pop(key, None)

    def submitted(self, instruction_ids: Iterable[str]) -> None:
        """A submit request carried these instruction ids (counted before any check)."""
        with self._lock:
            self._submissions.update(instruction_ids)

    def first_seen(self, bank: str, batch_id: str) -> float:
        """When (monotonic) `bank` was first presented `batch_id`; now, if this is the first."""
        with self._lock:
            return self._first_seen.setdefault((bank, batch_id), time.monotonic())

    def figures(self) -> LoadFigures:
        """The counters now."""
        with self._lock:
            return LoadFigures(in_flight=len(self._open), peak=self._peak,
                               peak_attended=self._peak_attended, calls=dict(self._calls),
                               submissions=dict(self._submissions))


def _attended(conn: socket.socket) -> bool:
    """True while the caller has sent nothing more (it is waiting for the answer)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
    except (OSError, ValueError):  # closed under us
        return False
    return not readable
