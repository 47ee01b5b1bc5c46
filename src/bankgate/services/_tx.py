"""Transactions that lose a race are run again, whole, a bounded number of times (I-04).

So are transactions whose connection the server cut before they committed (I-01: a
PostgreSQL restart, a terminated backend): the server rolled them back, exactly as it does
the loser of a deadlock. A connection lost *during* COMMIT is not retried: the commit may
have landed, and only the caller can tell.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from bankgate.domain import PaymentOrder, Status, advance
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import ConcurrentUpdate
from bankgate.store import UnitOfWork

__all__ = ["Changes", "RetryLater", "UowFactory", "in_transaction"]

log = logging.getLogger(__name__)
T = TypeVar("T")
UowFactory = Callable[[], UnitOfWork]

# PostgreSQL serialization failure / deadlock, MySQL deadlock / lock wait timeout.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_RETRYABLE_MYSQL = frozenset({1213, 1205})


def in_transaction(uow: UowFactory, work: Callable[[UnitOfWork], T], *,
                   attempts: int = 6) -> T:
    """Run `work` in a fresh unit of work and commit; rerun it whole after a lost race or
    a connection cut before COMMIT."""
    for attempt in range(1, attempts + 1):
        committing = False
        try:
            with uow() as unit:
                result = work(unit)
                committing = True
                unit.commit()
                return result
        except (ConcurrentUpdate, OperationalError, DBAPIError) as exc:
            if attempt == attempts or not _is_retryable(exc, committing=committing):
                raise
            log.info("transaction lost a race or its connection, running it again",
                     extra={"attempt": attempt, "error": type(exc).__name__})
            time.sleep(random.uniform(0.005, 0.02) * attempt)
    raise AssertionError("unreachable")


def _is_retryable(exc: Exception, *, committing: bool) -> bool:
    if isinstance(exc, ConcurrentUpdate):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return not committing  # cut before COMMIT: rolled back; during it: outcome unknown
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in _RETRYABLE_MYSQL:
        return True
    return "database is locked" in str(exc)


@dataclass
class Changes:
    """Order transitions collected in one transaction, each with its audit record."""

    at: datetime
    actor: str
    _orders: dict[str, tuple[PaymentOrder, int]] = field(default_factory=dict)
    _audit: list[AuditRecord] = field(default_factory=list)

    def move(self, order: PaymentOrder, to: Status, *, reason_code: str | None = None,
             reason: str | None = None, **detail: object) -> PaymentOrder:
        """Advance `order` (as last moved here) to `to` and record why."""
        current, expected = self._orders.get(order.id, (order, order.version))
        moved = advance(current, to, at=self.at, reason_code=reason_code, reason=reason)
        self._orders[order.id] = (moved, expected)
        self._audit.append(AuditRecord(
            at=self.at, actor=self.actor, action="order.transition", subject_kind="order",
            subject_id=order.id, from_status=current.status.value, to_status=to.value,
            detail={k: v for k, v in {"reason_code": reason_code, "reason": reason,
                                      **detail}.items() if v is not None}))
        return moved

    def latest(self, order: PaymentOrder) -> PaymentOrder:
        """The order as moved so far in this transaction."""
        return self._orders.get(order.id, (order, 0))[0]

    def record(self, record: AuditRecord) -> None:
        """Add an audit record that is not a transition."""
        self._audit.append(record)

    @property
    def moved(self) -> list[PaymentOrder]:
        """Every order changed here, in its final state."""
        return [order for order, _ in self._orders.values()]

    def flush(self, unit: UnitOfWork) -> None:
        """Write the changed orders (compare-and-set on their versions) and audit records.

        The orders stay known to `latest()`; a later flush writes only what moved since.
        """
        unit.orders.save_many([(o, expected) for o, expected in self._orders.values()
                               if o.version != expected])
        unit.audit.append_many(self._audit)
        self._orders = {key: (o, o.version) for key, (o, _) in self._orders.items()}
        self._audit.clear()


class RetryLater(Exception):
    """Raised by a job handler: nothing is lost, run this job again after `delay_s`."""

    def __init__(self, delay_s: float, reason: str, *, counted: bool = True) -> None:
        self.delay_s = delay_s
        self.reason = reason
        #: False when the job waits for a person (a certificate to renew, a channel to
        #: configure): such waits do not use up its attempts, so it never dies of them.
        self.counted = counted
        super().__init__(f"retry in {delay_s:.1f}s: {reason}")
