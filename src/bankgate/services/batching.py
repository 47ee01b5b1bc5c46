"""Group released orders into batches per debtor account, bank, currency and execution date."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bankgate.domain import (
    Batch,
    BatchKey,
    BatchState,
    CompanyAccount,
    Money,
    PaymentOrder,
    batch_key,
    new_batch_id,
)
from bankgate.domain.audit_records import AuditRecord
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.payments import FORM_BATCHES
from bankgate.store import NewJob, UnitOfWork

__all__ = ["MAX_BATCH", "add_batch", "dispatch_job", "form_batches"]

#: Orders per batch; the host API takes up to 1000 per message.
MAX_BATCH = 1000
#: Orders taken per run; the rest go to the next run of the job.
_PER_RUN = 20_000


def dispatch_job(batch_id: str) -> NewJob:
    """The job that sends one batch."""
    return NewJob("dispatch", {"batch_id": batch_id}, dedupe_key=f"dispatch:{batch_id}",
                  max_attempts=50)


def form_batches(*, uow: UowFactory, now: Callable[[], datetime],
                 max_batch: int = MAX_BATCH) -> list[Batch]:
    """Put every released, unbatched order into a batch and enqueue each batch's dispatch."""
    return in_transaction(uow, lambda unit: _form(unit, now(), max_batch))


def _form(unit: UnitOfWork, at: datetime, max_batch: int) -> list[Batch]:
    orders = unit.orders.claim_unbatched(limit=_PER_RUN)
    accounts: dict[str, CompanyAccount] = {}
    groups: dict[BatchKey, list[PaymentOrder]] = defaultdict(list)
    for order in orders:
        debtor = accounts.get(order.debtor) or accounts.setdefault(
            order.debtor, unit.accounts.get(order.debtor))
        groups[batch_key(order, debtor)].append(order)
    formed: list[Batch] = []
    for key, members in groups.items():
        for start in range(0, len(members), max_batch):
            formed.append(add_batch(unit, key, members[start:start + max_batch], at))
    if len(orders) == _PER_RUN:
        unit.jobs.enqueue(FORM_BATCHES, now=at)
    return formed


def add_batch(unit: UnitOfWork, key: BatchKey, members: list[PaymentOrder], at: datetime) -> Batch:
    """Form one batch of `members` (one key) in the caller's transaction, audit it and queue
    its dispatch; the members' batch ids are set by compare-and-set."""
    batch = Batch(id=new_batch_id(), key=key, order_ids=tuple(o.id for o in members),
                  instruction_ids=tuple(o.instruction_id for o in members),
                  total=sum((o.amount for o in members), Money.zero(key.currency)),
                  state=BatchState.READY, version=1, created_at=at)
    unit.batches.add(batch, at=at)
    unit.orders.save_many([(_with_batch(o, batch), o.version) for o in members])
    unit.audit.append(AuditRecord(
        at=at, actor="system:batching", action="batch.formed", subject_kind="batch",
        subject_id=batch.id, to_status=batch.state.value,
        detail={"orders": batch.count, "total": str(batch.total), "bank": key.bank,
                "debtor": key.debtor, "execution_date": key.execution_date.isoformat()}))
    unit.jobs.enqueue(dispatch_job(batch.id), now=at)
    return batch


def _with_batch(order: PaymentOrder, batch: Batch) -> PaymentOrder:
    return replace(order, batch_id=batch.id, version=order.version + 1)
