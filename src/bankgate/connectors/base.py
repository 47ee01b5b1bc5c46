"""The bank channel protocol: six questions every channel answers, and what it can do.

A channel that lacks a capability raises `Unsupported`; callers check `capabilities` first.
Errors say whether a retry is safe: `BankUnavailable` (nothing reached the bank), `BankRejected`
(the bank said no; do not retry), `OutcomeUnknown` (it may have reached the bank: ask with
`status()`, never resend blindly).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from bankgate.domain import (
    AccountNumber,
    Balance,
    BankId,
    Batch,
    CompanyAccount,
    InstructionId,
    Payee,
    PaymentOrder,
    Statement,
    StatementEntry,
    StatusReport,
    SubmissionAck,
)
from bankgate.domain.receipts import Receipt
from bankgate.domain.verification import NameMatch
from bankgate.errors import BankRejected, BankUnavailable, OutcomeUnknown, Unsupported

__all__ = [
    "AccountNameChecker",
    "BankRejected",
    "BankUnavailable",
    "CallbackReader",
    "Capability",
    "Channel",
    "ErrorClass",
    "Logged",
    "OutcomeUnknown",
    "ReceiptSource",
    "SubmitLine",
    "Unsupported",
]

log = logging.getLogger(__name__)


class Capability(StrEnum):
    """What a channel can do."""

    BALANCES = "balances"
    HISTORY = "history"
    SUBMIT_BATCH = "submit_batch"
    STATUS = "status"
    STATEMENT = "statement"
    RECEIPTS = "receipts"
    ACCOUNT_NAME_CHECK = "account_name_check"
    CALLBACKS = "callbacks"
    BANK_CONFIRMATION = "bank_confirmation"  # holds an order for 网银二次确认 (B-19)


class ErrorClass(StrEnum):
    """What a bank error code means for the caller (per bank, as data)."""

    RETRYABLE = "retryable"  # nothing was done; the same request may be sent again
    TERMINAL = "terminal"  # the bank refused; sending again will not help
    UNKNOWN = "unknown"  # it may have been done; ask with status()


@dataclass(frozen=True, slots=True)
class SubmitLine:
    """One order as a channel sends it: the order and its payee (the debtor is the batch's)."""

    order: PaymentOrder
    payee: Payee
    bank_confirmation: bool = False  # the bank holds it for a second confirmation (B-19)


class Channel(Protocol):
    """How bankgate talks to one bank; every method may raise the three channel errors."""

    kind: str
    bank: str
    capabilities: frozenset[Capability]

    def balances(self, accounts: Sequence[CompanyAccount]) -> list[Balance]:
        """Current balances (ledger and available) of these accounts at this bank."""
        ...

    def transactions(
        self, account: CompanyAccount, since: date, until: date
    ) -> Iterator[StatementEntry]:
        """Booked entries between two dates, inclusive, oldest first."""
        ...

    def submit(
        self, batch: Batch, debtor: CompanyAccount, lines: Sequence[SubmitLine]
    ) -> SubmissionAck:
        """Send a batch; idempotent on the batch id and every instruction id."""
        ...

    def status(self, ids: Sequence[InstructionId]) -> list[StatusReport]:
        """The bank's word on each instruction id (`not_found` when it has none)."""
        ...

    def statements(self, account: CompanyAccount, on: date) -> Statement:
        """The end-of-day statement of `account` for `on`."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class CallbackReader(Protocol):
    """A channel whose bank pushes status callbacks: turns one callback body into a report."""

    def read_callback(self, body: bytes) -> StatusReport:
        """The report a callback carries; raises ChannelError if it is not a valid callback."""
        ...


class AccountNameChecker(Protocol):
    """A channel whose bank verifies that a name holds an account (ACCOUNT_NAME_CHECK)."""

    def check_account_name(self, account: AccountNumber, name: str,
                           held_at: BankId | None) -> NameMatch:
        """The bank's verdict; a read, safe to repeat."""
        ...


class ReceiptSource(Protocol):
    """A channel whose bank issues electronic receipts (RECEIPTS)."""

    def receipts(self, account: CompanyAccount, on: date) -> Iterator[Receipt]:
        """The receipts of the entries booked on `on`."""
        ...

    def verify_receipt(self, receipt_no: str, code: str) -> bool:
        """Whether the bank confirms the receipt's verification code."""
        ...


class Logged:
    """Wraps any channel; logs each call with its duration and outcome, never its payload."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.bank = inner.bank
        self.capabilities = inner.capabilities

    def _timed(self, name: str, call: object, *args: object) -> object:
        started = time.monotonic()
        outcome = "ok"
        try:
            return call(*args)  # type: ignore[operator]
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            log.info("channel call", extra={"bank": self.bank, "call": name, "outcome": outcome,
                                            "ms": round((time.monotonic() - started) * 1000, 1)})

    def balances(self, accounts: Sequence[CompanyAccount]) -> list[Balance]:
        """See Channel.balances."""
        return self._timed("balances", self.inner.balances, accounts)  # type: ignore[return-value]

    def transactions(
        self, account: CompanyAccount, since: date, until: date
    ) -> Iterator[StatementEntry]:
        """See Channel.transactions (materialised so the timing covers the whole call)."""
        return iter(self._timed(  # type: ignore[call-overload]
            "transactions", lambda *a: list(self.inner.transactions(*a)), account, since, until))

    def submit(
        self, batch: Batch, debtor: CompanyAccount, lines: Sequence[SubmitLine]
    ) -> SubmissionAck:
        """See Channel.submit."""
        return self._timed("submit", self.inner.submit, batch, debtor, lines)  # type: ignore[return-value]

    def status(self, ids: Sequence[InstructionId]) -> list[StatusReport]:
        """See Channel.status."""
        return self._timed("status", self.inner.status, ids)  # type: ignore[return-value]

    def statements(self, account: CompanyAccount, on: date) -> Statement:
        """See Channel.statements."""
        return self._timed("statements", self.inner.statements, account, on)  # type: ignore[return-value]

    def read_callback(self, body: bytes) -> StatusReport:
        """See CallbackReader.read_callback (Unsupported when the channel has no callbacks)."""
        reader = getattr(self.inner, "read_callback", None)
        if reader is None:
            raise Unsupported(f"{self.bank}: this channel takes no callbacks")
        report: StatusReport = reader(body)
        return report

    def check_account_name(self, account: AccountNumber, name: str,
                           held_at: BankId | None) -> NameMatch:
        """See AccountNameChecker (Unsupported when the bank offers no name check)."""
        checker = getattr(self.inner, "check_account_name", None)
        if checker is None:
            raise Unsupported(f"{self.bank}: this channel offers no account-name check")
        return self._timed("check_account_name", checker, account, name, held_at)  # type: ignore[return-value]

    def receipts(self, account: CompanyAccount, on: date) -> Iterator[Receipt]:
        """See ReceiptSource (Unsupported when the bank issues none on this channel)."""
        source = getattr(self.inner, "receipts", None)
        if source is None:
            raise Unsupported(f"{self.bank}: this channel offers no receipts")
        return iter(self._timed("receipts", lambda *a: list(source(*a)), account, on))  # type: ignore[call-overload]

    def verify_receipt(self, receipt_no: str, code: str) -> bool:
        """See ReceiptSource."""
        checker = getattr(self.inner, "verify_receipt", None)
        if checker is None:
            raise Unsupported(f"{self.bank}: this channel cannot verify receipts")
        return bool(self._timed("verify_receipt", checker, receipt_no, code))

    def close(self) -> None:
        """See Channel.close."""
        self.inner.close()
