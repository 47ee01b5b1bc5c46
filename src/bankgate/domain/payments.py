"""Payment orders and batches; `advance` is the only code that changes an order's status."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from bankgate.domain.errors import InvalidAmount, InvalidField
from bankgate.domain.ids import AccountId, BatchId, InstructionId, OrderId
from bankgate.domain.lifecycle import Status, require_transition
from bankgate.domain.money import Currency, Money
from bankgate.domain.parties import BankId, CompanyAccount, Payee

__all__ = [
    "Batch",
    "BatchKey",
    "BatchState",
    "FlowType",
    "PaymentOrder",
    "advance",
    "batch_key",
    "new_payment_order",
]

#: ISO 20022 RmtInf/Ustrd is Max140Text.
REMITTANCE_MAX = 140


class FlowType(StrEnum):
    """Why money moves; policy tiers differ by flow (DESIGN.md, Policy)."""

    SUPPLIER = "supplier"
    PAYROLL = "payroll"
    REIMBURSEMENT = "reimbursement"
    INTERNAL_TRANSFER = "internal_transfer"
    TAX = "tax"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentOrder:
    """One instruction to move money from one of our accounts to a payee (付款指令)."""

    id: OrderId
    instruction_id: InstructionId
    flow: FlowType
    debtor: AccountId
    payee: Payee
    amount: Money
    execution_date: date
    remittance: str
    status: Status
    version: int
    created_at: datetime
    status_changed_at: datetime
    batch_id: BatchId | None = None
    reason_code: str | None = None
    reason: str | None = None
    source: str = "api"


def new_payment_order(
    *,
    id: OrderId,
    instruction_id: InstructionId,
    flow: FlowType,
    debtor: CompanyAccount,
    payee: Payee,
    amount: Money,
    execution_date: date,
    remittance: str,
    at: datetime,
    source: str = "api",
) -> PaymentOrder:
    """A draft order, checked against its debtor account.

    Raises:
        InvalidAmount: the amount is not positive or not in the debtor account's currency.
        InvalidField: the payee account is the debtor account itself.
    """
    if not amount.is_positive:
        raise InvalidAmount(f"amount: must be greater than zero, got {amount.amount}")
    if amount.currency != debtor.currency:
        raise InvalidAmount(
            f"amount: {amount.currency.code} differs from the debtor account's currency "
            f"{debtor.currency.code}"
        )
    if payee.account == debtor.number:
        raise InvalidField("payee.account: an order cannot pay its own debtor account")
    return PaymentOrder(
        id=id, instruction_id=instruction_id, flow=flow, debtor=debtor.id, payee=payee,
        amount=amount, execution_date=execution_date, remittance=remittance,
        status=Status.DRAFT, version=1, created_at=at, status_changed_at=at, source=source,
    )


def advance(
    order: PaymentOrder,
    to: Status,
    *,
    at: datetime,
    reason_code: str | None = None,
    reason: str | None = None,
) -> PaymentOrder:
    """The order in status `to`; the only place where a status changes.

    Raises:
        IllegalTransition: the lifecycle does not allow the move.
    """
    require_transition(order.status, to)
    return replace(
        order,
        status=to,
        status_changed_at=at,
        version=order.version + 1,
        reason_code=reason_code if reason_code is not None else order.reason_code,
        reason=reason if reason is not None else order.reason,
    )


@dataclass(frozen=True, slots=True)
class BatchKey:
    """Orders that may travel together: same debtor account, bank, currency and date."""

    debtor: AccountId
    bank: BankId
    currency: Currency
    execution_date: date


def batch_key(order: PaymentOrder, debtor: CompanyAccount) -> BatchKey:
    """The batch an order belongs in."""
    if order.debtor != debtor.id:
        raise InvalidField(f"order {order.id} is not drawn on account {debtor.id}")
    return BatchKey(order.debtor, debtor.bank, order.amount.currency, order.execution_date)


class BatchState(StrEnum):
    """Where a batch is in its dispatch (the orders carry their own statuses)."""

    READY = "ready"  # formed, dispatch job enqueued
    SENDING = "sending"  # a send is in flight or was interrupted; its outcome may be unknown
    SENT = "sent"  # the bank acknowledged it; per-order statuses follow
    UNKNOWN = "unknown"  # the bank may have it; resolved by status query
    CLOSED = "closed"  # every order has the bank's final word
    NEEDS_ATTENTION = "needs_attention"  # a person must decide (evidence kept)


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Payment orders sent to one bank as one message (批量付款)."""

    id: BatchId
    key: BatchKey
    order_ids: tuple[OrderId, ...]
    instruction_ids: tuple[InstructionId, ...]
    total: Money
    state: BatchState
    version: int
    created_at: datetime
    send_attempts: int = 0

    @property
    def count(self) -> int:
        """Number of orders in the batch."""
        return len(self.order_ids)
