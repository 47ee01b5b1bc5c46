"""Create payment orders (API or file, all-or-nothing) and hand them to the policy.

Each new order is decided under the policy in force (services/approvals.py): straight-through
orders are released in the creating transaction, the others wait in `pending_approval`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError

from bankgate.domain import (
    PaymentOrder,
    Status,
    new_instruction_id,
    new_order_id,
    new_payment_order,
)
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import DomainError, IdempotencyConflict
from bankgate.services._tx import Changes, UowFactory, in_transaction
from bankgate.services.approvals import route_new_orders
from bankgate.services.crashpoints import crash_point
from bankgate.services.intake import OrderDraft, read_order_file
from bankgate.store import NewJob, UnitOfWork
from bankgate.store.idempotency import StoredAnswer

__all__ = [
    "FORM_BATCHES",
    "Created",
    "NotCancellable",
    "cancel_order",
    "create_orders",
    "create_orders_once",
    "create_orders_under_policy",
    "import_order_file",
]

FORM_BATCHES = NewJob("form_batches", {}, dedupe_key="form_batches")


class NotCancellable(DomainError):
    """The order has gone too far (batched for the bank) to be cancelled."""

    code = "conflict"


@dataclass(frozen=True, slots=True)
class Created:
    """The answer to a create request; `replayed` when an earlier identical request made it."""

    status_code: int
    body: str
    replayed: bool


def create_orders(*, uow: UowFactory, drafts: Sequence[OrderDraft], actor: str,
                  now: Callable[[], datetime], source: str) -> list[PaymentOrder]:
    """Create orders from checked drafts in one transaction and release them for dispatch."""
    return in_transaction(uow, lambda unit: create_orders_under_policy(unit, drafts, actor,
                                                                       now(), source))


def create_orders_once(*, uow: UowFactory, drafts: Sequence[OrderDraft], actor: str,
                       now: Callable[[], datetime], source: str, scope: str, key: str,
                       request_hash: str,
                       render: Callable[[list[PaymentOrder]], tuple[int, str]]) -> Created:
    """Create orders at most once per `Idempotency-Key` (K-01, K-02, L-05).

    The orders and the stored answer commit together; a repeat with the same body gets the
    stored answer, a repeat with another body is refused.
    Raises:
        IdempotencyConflict: the key was used before with a different request.
    """
    def work(unit: UnitOfWork) -> Created:
        stored = unit.idempotency.get(scope, key)
        if stored is not None:
            return _replay(stored, request_hash, key)
        orders = create_orders_under_policy(unit, drafts, actor, now(), source)
        status_code, body = render(orders)
        unit.idempotency.put(scope, key, StoredAnswer(request_hash, status_code, body),
                             at=now())
        crash_point("payments.before_commit")
        return Created(status_code, body, replayed=False)

    for _ in range(3):
        try:
            return in_transaction(uow, work)
        except IntegrityError:
            continue  # a twin request committed first with the same key: replay its answer
    raise IdempotencyConflict(f"Idempotency-Key {key!r} is being used by concurrent requests")


def _replay(stored: StoredAnswer, request_hash: str, key: str) -> Created:
    if stored.request_hash != request_hash:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a "
                                  "different request body")
    return Created(stored.status_code, stored.response, replayed=True)


def import_order_file(*, uow: UowFactory, content: bytes, origin: str, actor: str,
                      now: Callable[[], datetime], today: date) -> tuple[list[PaymentOrder], bool]:
    """Import a CSV/JSON payment file all-or-nothing, once per content hash (K-03).

    Returns the orders and whether they were created now (False: the same file was
    imported before and these are the orders it made then).
    """
    digest = hashlib.sha256(content).hexdigest()
    with uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    drafts = read_order_file(content, origin=origin, accounts=accounts, today=today)
    source = f"file:{digest[:16]}"

    def render(orders: list[PaymentOrder]) -> tuple[int, str]:
        return 201, json.dumps([o.id for o in orders])

    created = create_orders_once(uow=uow, drafts=drafts, actor=actor, now=now, source=source,
                                 scope="payment-file", key=digest, request_hash=digest,
                                 render=render)
    with uow() as unit:
        orders = [unit.orders.get(i) for i in json.loads(created.body)]
    return orders, not created.replayed


def create_orders_under_policy(unit: UnitOfWork, drafts: Sequence[OrderDraft], actor: str,
                               at: datetime, source: str) -> list[PaymentOrder]:
    """Create `drafts` in the caller's transaction, each audited and decided under the
    payment policy in force; returns them as routed (released ones queue batching)."""
    orders: list[PaymentOrder] = []
    records: list[AuditRecord] = []
    for draft in drafts:
        order = new_payment_order(
            id=new_order_id(), instruction_id=draft.instruction_id or new_instruction_id(),
            flow=draft.flow, debtor=draft.debtor, payee=draft.payee, amount=draft.amount,
            execution_date=draft.execution_date, remittance=draft.remittance, at=at,
            source=source if not draft.where else f"{source} {draft.where}")
        records.append(AuditRecord(
            at=at, actor=actor, action="order.created", subject_kind="order",
            subject_id=order.id, to_status=order.status.value,
            detail={"amount": str(order.amount), "payee": order.payee.name,
                    "payee_account": str(order.payee.account), "source": order.source}))
        orders.append(order)
    unit.orders.add_many(orders)
    unit.audit.append_many(records)
    routed, released = route_new_orders(unit, orders, maker=actor, at=at)
    if released:
        unit.jobs.enqueue(FORM_BATCHES, now=at)
    return routed


def cancel_order(*, uow: UowFactory, order_id: str, actor: str,
                 now: Callable[[], datetime]) -> PaymentOrder:
    """Cancel an order that has not been put into a batch yet.

    Raises:
        IllegalTransition: the order is past the point where it can be cancelled.
        NotFound: no such order.
    """
    def work(unit: UnitOfWork) -> PaymentOrder:
        order = unit.orders.get(order_id)
        if order.batch_id is not None:
            raise NotCancellable(f"payment order {order_id} is already in batch "
                                 f"{order.batch_id} and can no longer be cancelled")
        changes = Changes(at=now(), actor=actor)
        cancelled = changes.move(order, Status.CANCELLED)
        changes.flush(unit)
        return cancelled

    return in_transaction(uow, work)
