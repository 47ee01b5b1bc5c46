"""The sandbox ledger's records: accounts, bookings (流水), orders, batches and refusals.

All amounts are integer minor units; dialect codes appear only on the wire (`wire.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bankgate.errors import BankgateError
from bankgate.sandbox.dialects import ErrorMeaning, StatusMeaning

__all__ = [
    "AccountKind",
    "AccountState",
    "BatchRequest",
    "Booking",
    "Order",
    "OrderLine",
    "Refusal",
    "StatementView",
    "StatusChange",
    "SubmitAnswer",
    "SubmitLine",
]


class AccountKind(StrEnum):
    """Whose account: a customer's, the gateway company's, or one of the bank's own."""

    CUSTOMER = "customer"
    COMPANY = "company"
    IN_TRANSIT = "in_transit"  # debited orders waiting for settlement
    EXTERNAL_CLEARING = "external_clearing"  # what left for banks outside the sandbox

    @property
    def is_internal(self) -> bool:
        """True for the bank's own accounts, which no API call can name."""
        return self in (AccountKind.IN_TRANSIT, AccountKind.EXTERNAL_CLEARING)


class Refusal(BankgateError):
    """A request the sandbox bank refuses: HTTP status, error meaning and a message."""

    code = "sandbox_refusal"

    def __init__(self, http_status: int, meaning: ErrorMeaning, message: str) -> None:
        self.http_status = http_status
        self.meaning = meaning
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountState:
    """An account as the bank holds it now."""

    bank: str
    number: str
    holder: str
    currency: str
    balance_minor: int
    opening_minor: int
    open: bool
    kind: AccountKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Booking:
    """One booked entry on one account; `serial` (流水号) is unique per bank."""

    serial: str
    bank: str
    account: str
    booked_at: datetime
    booking_date: date
    amount_minor: int  # credit +, debit −
    balance_after_minor: int
    counterparty_name: str
    counterparty_account: str
    instruction_id: str | None
    remittance: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLine:
    """One order of a submitted batch, as validated from the wire."""

    instruction_id: str
    amount_minor: int
    payee_name: str
    payee_account: str
    payee_bank: str | None
    remittance: str
    bank_confirmation: bool = False  # hold for a second confirmation in the portal (B-19)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchRequest:
    """A submitted batch, as validated from the wire."""

    batch_id: str
    debtor_account: str
    currency: str
    execution_date: date
    callback_url: str | None
    orders: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An order the bank holds, in its current status."""

    bank: str
    batch_id: str
    bank_reference: str
    debtor_account: str
    debtor_name: str
    currency: str
    line: OrderLine
    status: StatusMeaning
    error: ErrorMeaning | None
    error_message: str | None
    updated_at: datetime
    callback_url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitLine:
    """The answer line for one order of a batch."""

    instruction_id: str
    status: StatusMeaning
    error: ErrorMeaning | None
    error_message: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitAnswer:
    """The first answer to a batch; a resend with the same body gets it again."""

    batch_id: str
    bank_reference: str
    lines: tuple[SubmitLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    """A status change after the submit answer, to be delivered as a callback."""

    callback_id: str
    order: Order


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementView:
    """One account's end-of-day statement: opening + sum(entries) == closing."""

    account: AccountState
    on: date
    opening_minor: int
    closing_minor: int
    entries: tuple[Booking, ...]
