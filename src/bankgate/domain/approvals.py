"""Approvals bound to the order they approve (DESIGN.md, Policy; INV-4, A-06).

An approval signs the order's canonical bytes: its identity (order id and instruction id) and
every field that decides where money goes and how much — flow, payee name, payee account,
payee bank, amount, currency, debtor account and execution date. Editing any of these changes
the hash, so an approval made before the edit no longer matches and is void. The remittance
text is left out on purpose: correcting an invoice reference moves no money.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from bankgate.domain.ids import OrderId
from bankgate.domain.payments import PaymentOrder

__all__ = [
    "CANONICAL_VERSION",
    "Approval",
    "ApprovalAct",
    "canonical_order_bytes",
    "order_hash",
    "orders_hash",
]

#: Bumped if the canonical form ever changes; old approvals then no longer match (by design).
CANONICAL_VERSION: Final = "bankgate-order-v1"


def canonical_order_bytes(order: PaymentOrder) -> bytes:
    """What an approval signs: sorted-key compact JSON of the money-moving fields (UTF-8)."""
    fields = {
        "v": CANONICAL_VERSION,
        "order_id": order.id,
        "instruction_id": order.instruction_id,
        "flow": order.flow.value,
        "debtor_account": order.debtor,
        "payee_name": order.payee.name,
        "payee_account": order.payee.account.reveal(),
        "payee_bank": order.payee.bank or "",
        "amount_minor": str(order.amount.to_minor()),
        "currency": order.amount.currency.code,
        "execution_date": order.execution_date.isoformat(),
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def order_hash(order: PaymentOrder) -> str:
    """SHA-256 (hex) of `canonical_order_bytes(order)`."""
    return hashlib.sha256(canonical_order_bytes(order)).hexdigest()


def orders_hash(hashes: list[str]) -> str:
    """One hash over several order hashes (a batch approved with one code), order-independent."""
    joined = "\n".join(sorted(hashes)).encode("ascii")
    return hashlib.sha256(b"bankgate-orders-v1\n" + joined).hexdigest()


class ApprovalAct(StrEnum):
    """What a person did to an order."""

    APPROVE = "approve"
    RELEASE = "release"


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """One person's approval (or release) of one order as it was when they acted."""

    id: str
    order_id: OrderId
    act: ApprovalAct
    order_hash: str
    user_id: str
    role: str
    at: datetime
    policy_version: int
    step_up_id: str | None = None
    key_id: str | None = None
    signature: bytes | None = None
    voided_at: datetime | None = None

    @property
    def is_void(self) -> bool:
        """True once an edit (or a rejection) has voided it."""
        return self.voided_at is not None

    def is_bound_to(self, order: PaymentOrder) -> bool:
        """True if this approval is live and was made over the order exactly as it is now."""
        if self.is_void or self.order_id != order.id:
            return False
        return hmac.compare_digest(self.order_hash, order_hash(order))
