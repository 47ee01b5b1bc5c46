"""Payment orders and batches: rows ⇄ domain, saved by compare-and-set on `version`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update

from bankgate.domain import (
    AccountId,
    AccountKind,
    AccountNumber,
    BankId,
    Batch,
    BatchId,
    BatchKey,
    BatchState,
    FlowType,
    InstructionId,
    Money,
    OrderId,
    Payee,
    PaymentOrder,
    Status,
    currency,
)
from bankgate.errors import ConcurrentUpdate, NotFound
from bankgate.store._sql import dialect
from bankgate.store.tables import batches, payment_orders

__all__ = ["BatchRepository", "OrderRepository"]

_po = payment_orders.c


class OrderRepository:
    """Payment orders."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, orders: Sequence[PaymentOrder]) -> None:
        """Insert new orders (one statement, many rows)."""
        if orders:
            self._conn.execute(payment_orders.insert(), [_to_row(o) for o in orders])

    def get(self, order_id: str) -> PaymentOrder:
        """The order with this id."""
        row = self._conn.execute(select(payment_orders).where(_po.id == order_id)).first()
        if row is None:
            raise NotFound(f"payment order {order_id!r} does not exist")
        return _to_order(row._mapping)

    def get_many(self, ids: Sequence[str]) -> list[PaymentOrder]:
        """The orders with these ids that exist, in id order."""
        found: list[PaymentOrder] = []
        for chunk in _chunks(list(ids), 900):
            rows = self._conn.execute(select(payment_orders).where(_po.id.in_(chunk)))
            found.extend(_to_order(r._mapping) for r in rows)
        return sorted(found, key=lambda o: o.id)

    def by_instruction_ids(self, ids: Sequence[str]) -> dict[str, PaymentOrder]:
        """Orders by instruction id (missing ids are simply absent)."""
        found: dict[str, PaymentOrder] = {}
        for chunk in _chunks(list(ids), 900):
            rows = self._conn.execute(
                select(payment_orders).where(_po.instruction_id.in_(chunk)))
            found.update({r.instruction_id: _to_order(r._mapping) for r in rows})
        return found

    def by_batch(self, batch_id: str, *, lock: bool = False) -> list[PaymentOrder]:
        """The orders of a batch, in instruction order."""
        query = select(payment_orders).where(_po.batch_id == batch_id).order_by(_po.id)
        if lock and dialect(self._conn) != "sqlite":
            query = query.with_for_update()
        return [_to_order(r._mapping) for r in self._conn.execute(query)]

    def batches_with_flow(self, batch_ids: Sequence[str], flow: FlowType) -> set[str]:
        """Those of `batch_ids` holding at least one order of `flow`."""
        found: set[str] = set()
        for chunk in _chunks(list(batch_ids), 500):
            query = select(_po.batch_id).distinct().where(_po.batch_id.in_(chunk),
                                                          _po.flow == flow.value)
            found.update(r[0] for r in self._conn.execute(query))
        return found

    def instruction_ids_in(self, batch_id: str, statuses: Iterable[str]) -> list[str]:
        """Instruction ids of a batch's orders in these statuses (no full rows)."""
        rows = self._conn.execute(select(_po.instruction_id).where(
            _po.batch_id == batch_id, _po.status.in_(list(statuses))).order_by(_po.id))
        return [row[0] for row in rows]

    def claim_unbatched(self, *, limit: int) -> list[PaymentOrder]:
        """Released orders without a batch, row-locked (others skip them) on servers."""
        query = (select(payment_orders)
                 .where(_po.status == Status.RELEASED.value, _po.batch_id.is_(None))
                 .order_by(_po.debtor_id, _po.execution_date, _po.id).limit(limit))
        if dialect(self._conn) != "sqlite":
            query = query.with_for_update(skip_locked=True)
        return [_to_order(r._mapping) for r in self._conn.execute(query)]

    def list(self, *, status: str | None = None, batch_id: str | None = None,
             limit: int = 100, offset: int = 0) -> list[PaymentOrder]:
        """Orders, newest first, optionally by status or batch."""
        query = select(payment_orders).order_by(_po.id.desc()).limit(limit).offset(offset)
        if status:
            query = query.where(_po.status == status)
        if batch_id:
            query = query.where(_po.batch_id == batch_id)
        return [_to_order(r._mapping) for r in self._conn.execute(query)]

    def count_by_status(self) -> dict[str, int]:
        """How many orders are in each status."""
        rows = self._conn.execute(select(_po.status, func.count()).group_by(_po.status))
        return {status: count for status, count in rows}

    def save(self, order: PaymentOrder, *, expected_version: int) -> None:
        """Write a changed order if nobody changed it since `expected_version`."""
        self.save_many([(order, expected_version)])

    def save_many(self, changes: Iterable[tuple[PaymentOrder, int]]) -> None:
        """Compare-and-set many orders at once; any lost race fails them all.

        Raises:
            ConcurrentUpdate: a row's version was not the expected one.
        """
        params = [{"b_id": o.id, "b_version": expected, "status": o.status.value,
                   "version": o.version, "status_changed_at": o.status_changed_at,
                   "batch_id": o.batch_id, "reason_code": o.reason_code,
                   "reason": _clip(o.reason, 255)} for o, expected in changes]
        if not params:
            return
        stmt = (update(payment_orders)
                .where(and_(_po.id == bindparam("b_id"), _po.version == bindparam("b_version")))
                .values(status=bindparam("status"), version=bindparam("version"),
                        status_changed_at=bindparam("status_changed_at"),
                        batch_id=bindparam("batch_id"), reason_code=bindparam("reason_code"),
                        reason=bindparam("reason")))
        changed = _rowcount(self._conn, stmt, params)
        if changed != len(params):
            raise ConcurrentUpdate(
                f"{len(params) - changed} of {len(params)} payment orders changed concurrently")


class BatchRepository:
    """Batches."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, batch: Batch, *, at: datetime) -> None:
        """Insert a new batch."""
        self._conn.execute(batches.insert().values(
            id=batch.id, debtor_id=batch.key.debtor, bank=batch.key.bank,
            currency=batch.key.currency.code, execution_date=batch.key.execution_date,
            state=batch.state.value, version=batch.version, order_count=batch.count,
            total_minor=batch.total.to_minor(), send_attempts=batch.send_attempts,
            created_at=at, updated_at=at))

    def get(self, batch_id: str, *, lock: bool = False) -> Batch:
        """The batch with this id, with its orders' ids (row-locked on servers if asked)."""
        query = select(batches).where(batches.c.id == batch_id)
        if lock and dialect(self._conn) != "sqlite":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            raise NotFound(f"batch {batch_id!r} does not exist")
        members = self._conn.execute(
            select(_po.id, _po.instruction_id).where(_po.batch_id == batch_id).order_by(_po.id))
        pairs = list(members)
        return _to_batch(row._mapping, pairs)

    def summary(self, batch_id: str) -> dict[str, Any]:
        """One batch's row (no member ids)."""
        row = self._conn.execute(select(batches).where(batches.c.id == batch_id)).first()
        if row is None:
            raise NotFound(f"batch {batch_id!r} does not exist")
        return dict(row._mapping)

    def list(self, *, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Batch summaries, newest first (no member ids)."""
        query = select(batches).order_by(batches.c.id.desc()).limit(limit)
        if state:
            query = query.where(batches.c.state == state)
        return [dict(r._mapping) for r in self._conn.execute(query)]

    def save(self, batch: Batch, *, expected_version: int, at: datetime,
             bank_reference: str | None = None, note: str | None = None,
             last_sent_at: datetime | None = None) -> None:
        """Compare-and-set the batch's state, attempts and notes."""
        values: dict[str, Any] = {"state": batch.state.value, "version": batch.version,
                                  "send_attempts": batch.send_attempts, "updated_at": at}
        if bank_reference is not None:
            values["bank_reference"] = bank_reference[:64]
        if note is not None:
            values["note"] = note[:255]
        if last_sent_at is not None:
            values["last_sent_at"] = last_sent_at
        result = self._conn.execute(update(batches).where(
            batches.c.id == batch.id, batches.c.version == expected_version).values(**values))
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"batch {batch.id} changed concurrently")

    def last_sent_at(self, batch_id: str) -> datetime | None:
        """When the batch was last handed to the bank."""
        return self._conn.execute(
            select(batches.c.last_sent_at).where(batches.c.id == batch_id)).scalar()


def _rowcount(conn: Connection, stmt: Any, params: list[dict[str, Any]]) -> int:
    if len(params) == 1 or not conn.dialect.supports_sane_multi_rowcount:
        return sum(conn.execute(stmt, p).rowcount for p in params)
    return conn.execute(stmt, params).rowcount


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else text[:size]


def _to_row(order: PaymentOrder) -> dict[str, Any]:
    return {
        "id": order.id, "instruction_id": order.instruction_id, "flow": order.flow.value,
        "debtor_id": order.debtor, "payee_name": order.payee.name,
        "payee_account": order.payee.account.reveal(),  # sealed (store/sealed.py)
        "payee_account_bidx": order.payee.account.reveal(),  # stored as its keyed tag
        "payee_account_kind": order.payee.account.kind.value, "payee_bank": order.payee.bank,
        "amount_minor": order.amount.to_minor(), "currency": order.amount.currency.code,
        "execution_date": order.execution_date, "remittance": order.remittance,
        "status": order.status.value, "version": order.version, "created_at": order.created_at,
        "status_changed_at": order.status_changed_at, "batch_id": order.batch_id,
        "reason_code": order.reason_code, "reason": _clip(order.reason, 255),
        "source": order.source[:80],
    }


def _to_order(row: Any) -> PaymentOrder:
    payee = Payee(name=row["payee_name"],
                  account=AccountNumber(row["payee_account"],
                                        AccountKind(row["payee_account_kind"])),
                  bank=BankId(row["payee_bank"]) if row["payee_bank"] else None)
    return PaymentOrder(
        id=OrderId(row["id"]), instruction_id=InstructionId(row["instruction_id"]),
        flow=FlowType(row["flow"]), debtor=AccountId(row["debtor_id"]), payee=payee,
        amount=Money.from_minor(row["amount_minor"], currency(row["currency"])),
        execution_date=row["execution_date"], remittance=row["remittance"],
        status=Status(row["status"]), version=row["version"], created_at=row["created_at"],
        status_changed_at=row["status_changed_at"],
        batch_id=BatchId(row["batch_id"]) if row["batch_id"] else None,
        reason_code=row["reason_code"], reason=row["reason"], source=row["source"])


def _to_batch(row: Any, members: list[Any]) -> Batch:
    cur = currency(row["currency"])
    key = BatchKey(AccountId(row["debtor_id"]), BankId(row["bank"]), cur,
                   row["execution_date"])
    return Batch(
        id=BatchId(row["id"]), key=key,
        order_ids=tuple(OrderId(m[0]) for m in members),
        instruction_ids=tuple(InstructionId(m[1]) for m in members),
        total=Money.from_minor(row["total_minor"], cur), state=BatchState(row["state"]),
        version=row["version"], created_at=row["created_at"],
        send_attempts=row["send_attempts"])
