"""Read-only questions the interfaces ask: orders, batches, histories, job counts.

Orders and batches are shown to a caller given their permissions (`services/visibility`):
payroll amounts and the totals of batches holding payroll only to the payroll role.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bankgate.domain import FlowType
from bankgate.errors import IdempotencyConflict
from bankgate.services._tx import UowFactory
from bankgate.services.payments import Created
from bankgate.services.visibility import ShownOrder, shown, shown_batch

__all__ = ["BatchView", "OrderView", "batch", "batches", "earlier_answer", "job_counts", "order",
           "orders"]


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the caller may see it, with its history (its transitions' audit trail)."""

    order: ShownOrder
    history: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch summary with its orders, as the caller may see them."""

    summary: dict[str, Any]
    orders: list[ShownOrder]


def order(*, uow: UowFactory, order_id: str, permissions: Collection[str]) -> OrderView:
    """One order and its history; NotFound if there is none."""
    with uow() as unit:
        found = unit.orders.get(order_id)
        history = [h for h in unit.audit.for_subject(order_id)
                   if h["action"] in ("order.created", "order.transition")]
    return OrderView(shown(found, permissions), history)


def orders(*, uow: UowFactory, status: str | None, batch_id: str | None, limit: int,
           offset: int, permissions: Collection[str]) -> list[ShownOrder]:
    """Orders, newest first."""
    with uow() as unit:
        found = unit.orders.list(status=status, batch_id=batch_id, limit=limit, offset=offset)
    return [shown(o, permissions) for o in found]


def batches(*, uow: UowFactory, state: str | None, limit: int,
            permissions: Collection[str]) -> list[dict[str, Any]]:
    """Batch summaries, newest first; `total_hidden` on those holding payroll (not theirs)."""
    with uow() as unit:
        rows = unit.batches.list(state=state, limit=limit)
        payroll = unit.orders.batches_with_flow([r["id"] for r in rows], FlowType.PAYROLL)
    return [shown_batch(r, r["id"] in payroll, permissions) for r in rows]


def batch(*, uow: UowFactory, batch_id: str, permissions: Collection[str]) -> BatchView:
    """One batch and its orders; NotFound if there is none."""
    with uow() as unit:
        summary = unit.batches.summary(batch_id)
        members = unit.orders.by_batch(batch_id)
    has_payroll = any(o.flow is FlowType.PAYROLL for o in members)
    return BatchView(shown_batch(summary, has_payroll, permissions),
                     [shown(o, permissions) for o in members])


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
