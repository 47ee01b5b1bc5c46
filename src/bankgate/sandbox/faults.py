"""Fault knobs of the sandbox banks (hostapi-protocol.md, `POST /_sandbox/faults`).

Knobs are set for all banks (`bank=None`) or one bank; a bank's own knobs override the global
ones knob by knob. Rates draw from a seeded `random.Random` per scope, so a run is repeatable;
a `script` is a list of one-shot faults, each consumed by the first request of its `op`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

__all__ = ["Decision", "Fault", "FaultKnobs", "Faults", "Op"]


class Op(StrEnum):
    """The bank operations a fault can hit."""

    BALANCES = "balances"
    TRANSACTIONS = "transactions"
    STATEMENT = "statement"
    SUBMIT = "submit"
    STATUS = "status"
    VERIFY = "verify"
    RECEIPTS = "receipts"


class Fault(StrEnum):
    """A fault: before doing anything (busy, rate_limited) or after doing it (the rest)."""

    BUSY = "busy"
    RATE_LIMITED = "rate_limited"
    ERROR_AFTER_BOOKING = "error_after_booking"
    DROP_AFTER_ACCEPT = "drop_after_accept"
    # scripts only: the request is lost before the bank does anything, the caller sees the
    # connection close as after an accept (B-07: the bank then has no record of it)
    DROP_BEFORE_ACCEPT = "drop_before_accept"
    SLEEP_AFTER_ACCEPT = "sleep_after_accept"
    FORGED_ANSWER = "forged_answer"  # do the work; sign the answer with a key not the bank's
    UNSIGNED_ANSWER = "unsigned_answer"  # do the work; answer without a signature (B-15)
    BAD_XML = "bad_xml"  # front-end bank only: do the work; answer XML that does not parse

    @property
    def is_before(self) -> bool:
        """True for faults that refuse before anything is done (safe to retry)."""
        return self in (Fault.BUSY, Fault.RATE_LIMITED)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultKnobs:
    """The knobs in force for one bank."""

    latency_s: float = 0.0
    error_rate: float = 0.0  # 503 busy before doing anything, any op
    rate_limited_rate: float = 0.0  # 429 with Retry-After before doing anything, any op
    error_after_booking_rate: float = 0.0  # submit: 500 after booking
    drop_after_accept_rate: float = 0.0  # submit: book, then close without an answer
    sleep_after_accept_rate: float = 0.0  # submit: book, then answer `sleep_after_accept_s` later
    sleep_after_accept_s: float = 3.0  # how long a sleep_after_accept fault sleeps
    retry_after_s: int = 1
    duplicate_callbacks: int = 1  # each callback delivered this many times, concurrently
    clock_offset_s: float = 0.0
    # submit: a batch id first presented longer ago than this is refused, nothing done, as a
    # platform refuses a retry past its retry period (WeChat 超出重试期, B-06); 0: no window
    retry_window_s: float = 0.0


_RATES: Final = ("error_rate", "rate_limited_rate", "error_after_booking_rate",
                 "drop_after_accept_rate", "sleep_after_accept_rate")
_KNOBS: Final = {f.name: f.type for f in fields(FaultKnobs)}


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do to one request: wait `latency_s`, then maybe a fault."""

    latency_s: float = 0.0
    fault: Fault | None = None


class Faults:
    """Thread-safe fault settings, global and per bank."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._knobs: dict[str | None, dict[str, Any]] = {None: {}}
        self._rngs: dict[str | None, random.Random] = {None: random.Random(seed)}
        self._scripts: dict[str | None, list[tuple[Op, Fault]]] = {None: []}

    def set(self, bank: str | None = None, *, reset: bool = False, seed: int | None = None,
            script: Sequence[Mapping[str, Any]] | None = None, **knobs: Any) -> FaultKnobs:
        """Change knobs for one bank or all; `reset` first clears that scope (all: everything).

        Raises:
            ValueError: naming the knob, script entry or value that cannot be used.
        """
        checked = {name: _check(name, value) for name, value in knobs.items()}
        steps = [_step(i, entry) for i, entry in enumerate(script or ())]
        with self._lock:
            if reset:
                self._clear(bank)
            self._knobs.setdefault(bank, {}).update(checked)
            if seed is not None:
                self._rngs[bank] = random.Random(seed)
            if script is not None:
                self._scripts[bank] = steps
        return self.knobs(bank)

    def _clear(self, bank: str | None) -> None:
        scopes = list(self._knobs) if bank is None else [bank]
        for scope in scopes:
            self._knobs[scope] = {}
            self._scripts[scope] = []

    def knobs(self, bank: str | None) -> FaultKnobs:
        """The knobs in force for `bank` (global ones where the bank sets none)."""
        with self._lock:
            merged = {**self._knobs[None], **self._knobs.get(bank, {})} if bank else \
                dict(self._knobs[None])
        return FaultKnobs(**merged)

    def now(self, bank: str) -> datetime:
        """The bank's clock: UTC now shifted by its `clock_offset_s`."""
        return datetime.now(UTC) + timedelta(seconds=self.knobs(bank).clock_offset_s)

    def decide(self, bank: str, op: Op) -> Decision:
        """The fault for this request: a scripted one first, else one drawn from the rates."""
        knobs = self.knobs(bank)
        with self._lock:
            scripted = self._take(bank, op) or self._take(None, op)
            if scripted is not None:
                return Decision(knobs.latency_s, scripted)
            rng = self._rngs.get(bank) or self._rngs[None]
            for rate, fault in (("error_rate", Fault.BUSY),
                                ("rate_limited_rate", Fault.RATE_LIMITED)):
                if getattr(knobs, rate) and rng.random() < getattr(knobs, rate):
                    return Decision(knobs.latency_s, fault)
            if op is Op.SUBMIT:
                for rate, fault in (("error_after_booking_rate", Fault.ERROR_AFTER_BOOKING),
                                    ("drop_after_accept_rate", Fault.DROP_AFTER_ACCEPT),
                                    ("sleep_after_accept_rate", Fault.SLEEP_AFTER_ACCEPT)):
                    if getattr(knobs, rate) and rng.random() < getattr(knobs, rate):
                        return Decision(knobs.latency_s, fault)
        return Decision(knobs.latency_s, None)

    def _take(self, scope: str | None, op: Op) -> Fault | None:
        script = self._scripts.get(scope, [])
        for index, (step_op, fault) in enumerate(script):
            if step_op is op:
                del script[index]
                return fault
        return None


def _check(name: str, value: Any) -> Any:
    kind = _KNOBS.get(name)
    if kind is None:
        raise ValueError(f"{name}: not a fault knob (known: {sorted(_KNOBS)}, seed, script)")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if (value < 0 and name != "clock_offset_s") or (name in _RATES and value > 1):
        raise ValueError(f"{name}: {value!r} is out of range"
                         + (" (a rate is between 0 and 1)" if name in _RATES else ""))
    if name == "clock_offset_s" or kind == "float":
        return float(value)
    if not isinstance(value, int) or (name == "duplicate_callbacks" and not 1 <= value <= 20):
        raise ValueError(f"{name}: expected a whole number"
                         + (" from 1 to 20" if name == "duplicate_callbacks" else "")
                         + f", got {value!r}")
    return value


def _step(index: int, entry: Any) -> tuple[Op, Fault]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"script[{index}]: expected an object with op and fault")
    try:
        return Op(str(entry.get("op"))), Fault(str(entry.get("fault")))
    except ValueError:
        raise ValueError(f"script[{index}]: op must be one of {[o.value for o in Op]} and fault "
                         f"one of {[f.value for f in Fault]}, got {dict(entry)!r}") from None
