"""Read-only questions the interfaces ask: orders, batches, histories, job counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bankgate.domain import PaymentOrder
from bankgate.errors import IdempotencyConflict
from bankgate.services._tx import UowFactory
from bankgate.services.payments import Created

__all__ = ["BatchView", "OrderView", "batch", "batches", "earlier_answer", "job_counts", "order",
           "orders"]


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with its history (the audit trail of its transitions)."""

    order: PaymentOrder
    history: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch summary with its orders."""

    summary: dict[str, Any]
    orders: list[PaymentOrder]


def order(*, uow: UowFactory, order_id: str) -> OrderView:
    """One order and its history; NotFound if there is none."""
    with uow() as unit:
        found = unit.orders.get(order_id)
        history = [h for h in unit.audit.for_subject(order_id)
                   if h["action"] in ("order.created", "order.transition")]
    return OrderView(found, history)


def orders(*, uow: UowFactory, status: str | None, batch_id: str | None, limit: int,
           offset: int) -> list[PaymentOrder]:
    """Orders, newest first."""
    with uow() as unit:
        return unit.orders.list(status=status, batch_id=batch_id, limit=limit, offset=offset)


def batches(*, uow: UowFactory, state: str | None, limit: int) -> list[dict[str, Any]]:
    """Batch summaries, newest first."""
    with uow() as unit:
        return unit.batches.list(state=state, limit=limit)


def batch(*, uow: UowFactory, batch_id: str) -> BatchView:
    """One batch and its orders; NotFound if there is none."""
    with uow() as unit:
        return BatchView(unit.batches.summary(batch_id), unit.orders.by_batch(batch_id))


def job_counts(*, uow: UowFactory) -> dict[str, int]:
    """Jobs per state."""
    with uow() as unit:
        return unit.jobs.counts()


def earlier_answer(*, uow: UowFactory, scope: str, key: str, request_hash: str) -> Created | None:
    """The stored answer to an earlier request with this Idempotency-Key, if any (K-02).

    Read before the request is checked again, so a retry gets the first answer even when
    its input would no longer pass (an execution date now in the past).
    Raises:
        IdempotencyConflict: the key was used with a different request.
    """
    with uow() as unit:
        stored = unit.idempotency.get(scope, key)
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a "
                                  "different request body")
    return Created(stored.status_code, stored.response, replayed=True)
