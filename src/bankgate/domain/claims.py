"""Expense claims (报销单): employees, claim lines with invoices (发票), the claim lifecycle.

    submitted → approved → paying → paid
    with rejected (by an approver), blocked (the payee account failed verification; fixed
    by updating the account, then back to approved), failed (the bank rejected the payment)
    and returned (the payee's bank sent it back) — both of which may be paid again.

A claim line may not claim more than its invoice's total (价税合计); an invoice may not be
dated before the expense it pays for, nor in the future; an expense may not be older than the
claim window (报销时限). The checks return every problem, each naming its line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from bankgate.domain.errors import InvalidField
from bankgate.domain.ids import OrderId
from bankgate.domain.money import Money
from bankgate.domain.parties import AccountNumber, BankId
from bankgate.errors import DomainError

__all__ = [
    "CLAIM_NEXT",
    "CLAIM_WINDOW_DAYS",
    "Approval",
    "Claim",
    "ClaimLine",
    "ClaimState",
    "Employee",
    "IllegalClaimTransition",
    "Invoice",
    "check_lines",
    "move_claim",
    "require_invoice_shape",
]

#: Expenses older than this many days are not reimbursed (a common 报销时限 is 180 days).
CLAIM_WINDOW_DAYS: Final = 180


class ClaimState(StrEnum):
    """Where a claim is."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    PAYING = "paying"
    PAID = "paid"
    FAILED = "failed"
    RETURNED = "returned"


C = ClaimState
CLAIM_NEXT: Final[Mapping[ClaimState, frozenset[ClaimState]]] = {
    C.SUBMITTED: frozenset({C.APPROVED, C.REJECTED}),
    C.APPROVED: frozenset({C.PAYING, C.BLOCKED}),
    C.BLOCKED: frozenset({C.APPROVED}),
    C.PAYING: frozenset({C.PAID, C.FAILED, C.RETURNED}),
    C.PAID: frozenset({C.RETURNED}),
    C.FAILED: frozenset({C.APPROVED}),
    C.RETURNED: frozenset({C.APPROVED}),
    C.REJECTED: frozenset(),
}


class IllegalClaimTransition(DomainError):
    """A claim was asked to move to a state its lifecycle does not allow from here."""

    code = "conflict"


@dataclass(frozen=True, slots=True, kw_only=True)
class Employee:
    """Someone we reimburse, with the account they are paid to (报销人)."""

    id: str
    name: str
    department: str
    email: str | None
    account: AccountNumber
    bank: BankId
    branch_code: str | None = None
    username: str | None = None  # their own login: they may never approve their own claim
    verified_at: datetime | None = None
    verification_reason: str | None = None  # why the last verification failed
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice:
    """A Chinese VAT invoice (增值税发票): code and number identify it across the country."""

    code: str  # 发票代码, 10 or 12 digits; "" for a fully digital invoice (全电发票)
    number: str  # 发票号码, 8 digits, or 20 for a fully digital invoice
    issued_on: date
    amount: Money  # 金额 (before tax)
    tax: Money  # 税额
    seller: str
    seller_tax_id: str | None = None

    @property
    def gross(self) -> Money:
        """价税合计: what the buyer paid."""
        return self.amount + self.tax

    @property
    def key(self) -> tuple[str, str]:
        """The identity of the invoice."""
        return (self.code, self.number)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimLine:
    """One expense of a claim."""

    line_no: int
    category: str
    cost_centre: str
    description: str
    expense_date: date
    amount: Money
    invoice: Invoice | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """One step of a claim's approval chain, decided."""

    step: str  # "manager", "finance"
    actor: str
    at: datetime
    approved: bool
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """An employee's claim: lines, who approved it, and the payment that pays it."""

    id: str
    employee_id: str
    title: str
    department: str
    lines: tuple[ClaimLine, ...]
    total: Money
    state: ClaimState
    reason: str | None
    order_id: OrderId | None
    approvals: tuple[Approval, ...]
    version: int
    created_at: datetime
    updated_at: datetime


def move_claim(claim: Claim, to: ClaimState, *, at: datetime, reason: str | None = None,
               order_id: OrderId | None = None) -> Claim:
    """The claim in state `to`; the only place a claim's state changes.

    Raises:
        IllegalClaimTransition: the claim lifecycle does not allow the move.
    """
    if to not in CLAIM_NEXT[claim.state]:
        raise IllegalClaimTransition(f"claim {claim.id} is {claim.state.value} and cannot "
                                     f"become {to.value}")
    return replace(claim, state=to, reason=reason, updated_at=at, version=claim.version + 1,
                   order_id=order_id if order_id is not None else claim.order_id)


def check_lines(lines: Sequence[ClaimLine], *, today: date,
                categories: Mapping[str, str]) -> list[str]:
    """Every problem of a claim's lines, each naming its line (empty: all fine)."""
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    if not lines:
        problems.append("a claim needs at least one line")
    for line in lines:
        where = f"line {line.line_no}"
        problems += [f"{where}: {p}" for p in _line_problems(line, today, categories)]
        if line.invoice is not None:
            earlier = seen.setdefault(line.invoice.key, line.line_no)
            if earlier != line.line_no:
                problems.append(f"{where}: invoice {_shown(line.invoice)} is also on line "
                                f"{earlier}")
    return problems


def _line_problems(line: ClaimLine, today: date, categories: Mapping[str, str]) -> list[str]:
    found: list[str] = []
    if line.category not in categories:
        found.append(f"category {line.category!r} is not one of {', '.join(categories)}")
    if not line.amount.is_positive:
        found.append(f"amount must be greater than zero, got {line.amount.amount}")
    if line.expense_date > today:
        found.append(f"expense date {line.expense_date} is in the future")
    if line.expense_date < today - timedelta(days=CLAIM_WINDOW_DAYS):
        found.append(f"expense date {line.expense_date} is more than {CLAIM_WINDOW_DAYS} days "
                     "ago (报销时限)")
    invoice = line.invoice
    if invoice is None:
        return found
    if invoice.amount.currency != line.amount.currency:
        found.append(f"invoice is in {invoice.amount.currency}, the line in "
                     f"{line.amount.currency}")
        return found
    if line.amount > invoice.gross:
        found.append(f"claims {line.amount}, more than invoice {_shown(invoice)} totals "
                     f"({invoice.gross} with tax)")
    if invoice.issued_on > today:
        found.append(f"invoice {_shown(invoice)} is dated {invoice.issued_on}, in the future")
    if invoice.issued_on < line.expense_date - timedelta(days=1):
        found.append(f"invoice {_shown(invoice)} is dated {invoice.issued_on}, before the "
                     f"expense on {line.expense_date}")
    return found


def _shown(invoice: Invoice) -> str:
    return f"{invoice.code}/{invoice.number}" if invoice.code else invoice.number


def require_invoice_shape(code: str, number: str, *, where: str) -> None:
    """发票代码 10/12 digits or empty; 发票号码 8 digits (20 for a fully digital invoice)."""
    if code and not (code.isdigit() and code.isascii() and len(code) in (10, 12)):
        raise InvalidField(f"{where}.code: {code!r} is not an invoice code (10 or 12 digits)")
    lengths = (20,) if not code else (8,)
    if not (number.isdigit() and number.isascii() and len(number) in lengths):
        kind = "a fully digital invoice number (20 digits)" if not code else \
            "an invoice number (8 digits)"
        raise InvalidField(f"{where}.number: {number!r} is not {kind}")

