"""Read-only questions the interfaces ask: orders, batches, histories, job counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bankgate.domain import PaymentOrder
from bankgate.services._tx import UowFactory

__all__ = ["BatchView", "OrderView", "batch", "batches", "job_counts", "order", "orders"]


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
