"""Payroll runs (代发工资): one imported file, one line per employee, each followed to the bank.

A line whose payee account failed verification is never ordered; an ordered line's bank
status is its payment order's. A rejected, returned or unverified line may be paid again
(`may_reissue`) with corrected details, as a new order under a new instruction id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from bankgate.domain.ids import AccountId, OrderId
from bankgate.domain.lifecycle import Status
from bankgate.domain.money import Money
from bankgate.domain.parties import AccountNumber, BankId

__all__ = ["BankStatus", "LineState", "PayrollLine", "PayrollRun", "bank_status", "may_reissue"]


class LineState(StrEnum):
    """What the gateway did with a payroll line."""

    VERIFICATION_FAILED = "verification_failed"  # not paid: the account check failed
    ORDERED = "ordered"  # a payment order carries it


class BankStatus(StrEnum):
    """Where an employee's pay is, as the employee would ask it."""

    NOT_SENT = "not_sent"
    AWAITING_APPROVAL = "awaiting_approval"  # the payment policy holds the order for people
    IN_PROGRESS = "in_progress"
    PAID = "paid"
    REJECTED = "rejected"
    RETURNED = "returned"
    CANCELLED = "cancelled"


_BY_ORDER: Final = {Status.SETTLED: BankStatus.PAID, Status.REJECTED: BankStatus.REJECTED,
                    Status.RETURNED: BankStatus.RETURNED, Status.CANCELLED: BankStatus.CANCELLED,
                    Status.DRAFT: BankStatus.AWAITING_APPROVAL,
                    Status.PENDING_APPROVAL: BankStatus.AWAITING_APPROVAL,
                    Status.APPROVED: BankStatus.AWAITING_APPROVAL}


def bank_status(state: LineState, order_status: Status | None) -> BankStatus:
    """The line's bank status from its state and its order's status."""
    if state is LineState.VERIFICATION_FAILED or order_status is None:
        return BankStatus.NOT_SENT
    return _BY_ORDER.get(order_status, BankStatus.IN_PROGRESS)


def may_reissue(status: BankStatus) -> bool:
    """True when the line may be paid again: it failed and no money is on its way."""
    return status in (BankStatus.NOT_SENT, BankStatus.REJECTED, BankStatus.RETURNED)


@dataclass(frozen=True, slots=True, kw_only=True)
class PayrollLine:
    """One employee's pay in one run."""

    run_id: str
    line_no: int
    where: str
    employee_id: str
    name: str
    account: AccountNumber
    bank: BankId
    branch_code: str | None
    amount: Money
    remittance: str
    state: LineState
    reason: str | None
    order_id: OrderId | None
    attempts: int
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PayrollRun:
    """One imported payroll file."""

    id: str
    content_sha256: str
    origin: str
    period: str
    debtor: AccountId
    total: Money
    line_count: int
    actor: str
    created_at: datetime
