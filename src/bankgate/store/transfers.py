"""Internal transfers: rows ⇄ `Transfer`, saved by compare-and-set on `version`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from bankgate.domain import AccountId, Money, OrderId, currency
from bankgate.domain.transfers import Transfer, TransferState
from bankgate.errors import ConcurrentUpdate, NotFound
from bankgate.store.tables_flows import transfers

__all__ = ["TransferRepository"]

_t = transfers.c


class TransferRepository:
    """Transfers between our own accounts."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, transfer: Transfer) -> None:
        """Store a new transfer."""
        self._conn.execute(transfers.insert().values(**_row(transfer),
                                                     created_at=transfer.created_at))

    def get(self, transfer_id: str) -> Transfer:
        """The transfer with this id."""
        row = self._conn.execute(select(transfers).where(_t.id == transfer_id)).first()
        if row is None:
            raise NotFound(f"transfer {transfer_id!r} does not exist")
        return _transfer(row._mapping)

    def query(self, *, states: Sequence[TransferState] = (), limit: int = 500) -> list[Transfer]:
        """Transfers, oldest first, in any of `states` (all when empty)."""
        q = select(transfers).order_by(_t.created_at, _t.id).limit(limit)
        if states:
            q = q.where(_t.state.in_([s.value for s in states]))
        return [_transfer(r._mapping) for r in self._conn.execute(q)]

    def save(self, transfer: Transfer, *, expected_version: int) -> None:
        """Compare-and-set state, order, in-leg reference and failure."""
        values = _row(transfer)
        for key in ("id", "source_id", "target_id", "amount_minor", "currency", "rule_id",
                    "reason"):
            values.pop(key)
        result = self._conn.execute(update(transfers).where(
            _t.id == transfer.id, _t.version == expected_version).values(**values))
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"transfer {transfer.id} changed concurrently")


def _row(t: Transfer) -> dict[str, Any]:
    return {"id": t.id, "source_id": t.source, "target_id": t.target,
            "amount_minor": t.amount.to_minor(), "currency": t.amount.currency.code,
            "state": t.state.value, "reason": t.reason[:400], "rule_id": t.rule_id,
            "order_id": t.order_id, "in_reference": t.in_reference,
            "failure": t.failure[:255] if t.failure else None, "version": t.version,
            "updated_at": t.updated_at}


def _transfer(row: Any) -> Transfer:
    return Transfer(id=row["id"], source=AccountId(row["source_id"]),
                    target=AccountId(row["target_id"]),
                    amount=Money.from_minor(row["amount_minor"], currency(row["currency"])),
                    state=TransferState(row["state"]), reason=row["reason"],
                    rule_id=row["rule_id"],
                    order_id=OrderId(row["order_id"]) if row["order_id"] else None,
                    in_reference=row["in_reference"], failure=row["failure"],
                    version=row["version"], created_at=row["created_at"],
                    updated_at=row["updated_at"])
