"""Electronic receipts (电子回单): the bank's document proving one booked entry.

A receipt is kept as the bank sent it (`document`, with its SHA-256) beside what it says:
number, the entry's serial (流水号), the instruction id it books, the signed amount, when,
and the bank's verification code (验证码) that the bank can confirm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bankgate.domain.ids import AccountId, InstructionId
from bankgate.domain.money import Money

__all__ = ["Receipt"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """One electronic receipt as fetched from the bank."""

    bank: str
    account: AccountId
    receipt_no: str
    bank_reference: str  # the entry's serial (流水号)
    instruction_id: InstructionId | None
    amount: Money  # signed: debit −, credit +
    booked_at: datetime
    verification_code: str
    counterparty_name: str | None
    sha256: str
    document: bytes = field(repr=False)
    media_type: str = "application/pdf"
