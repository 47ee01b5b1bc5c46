"""What banks answer: submission acknowledgements and status reports, raw bytes kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from bankgate.domain.ids import BatchId, InstructionId
from bankgate.domain.lifecycle import Status
from bankgate.domain.money import Money
from bankgate.domain.parties import AccountNumber

__all__ = ["OUTCOME_STATUS", "REASONS", "Outcome", "StatusReport", "SubmissionAck"]


class Outcome(StrEnum):
    """The bank's word on one order, once a connector has translated the bank's own code."""

    RECEIVED = "received"  # the bank has it, nothing decided yet
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # 网银二次确认 pending
    ACCEPTED = "accepted"
    SETTLED = "settled"
    REJECTED = "rejected"
    RETURNED = "returned"
    NOT_FOUND = "not_found"  # the bank does not know this instruction id
    UNRECOGNIZED = "unrecognized"  # a code missing from the connector's table; never guessed


#: Outcome → lifecycle status; outcomes missing here change nothing.
OUTCOME_STATUS: Final = {
    Outcome.AWAITING_CONFIRMATION: Status.AWAITING_BANK_CONFIRMATION,
    Outcome.ACCEPTED: Status.ACCEPTED,
    Outcome.SETTLED: Status.SETTLED,
    Outcome.REJECTED: Status.REJECTED,
    Outcome.RETURNED: Status.RETURNED,
}


#: ISO 20022 external status reason codes we meet (ExternalStatusReason1Code), in short.
REASONS: Final = {
    "AC01": "incorrect account number 账号有误",
    "AC02": "invalid debtor account 付款账户无效",
    "AC04": "closed account 账户已销户",
    "AM04": "insufficient funds 余额不足",
    "BE01": "name does not match the account 户名不符",
    "DU05": "duplicate instruction 重复指令",
    "FF01": "invalid file format 报文格式错误",
    "MS03": "reason not specified 未说明原因",
    "NARR": "see the bank's text 见银行说明",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """The bank's word on one order."""

    instruction_id: InstructionId
    outcome: Outcome
    bank_code: str  # the bank's own status code, as sent
    reason_code: str | None = None  # ISO 20022 reason (AM04, AC01, ...) where known
    reason: str | None = None
    reported_at: datetime | None = None
    bank_reference: str | None = None
    # What the bank says it paid, where its message says it (callbacks): checked against the
    # order before the report may move it (B-12).
    amount: Money | None = None
    creditor_account: AccountNumber | None = None
    raw: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionAck:
    """The bank's answer to a submitted batch: one report per order it received."""

    batch_id: BatchId
    bank_reference: str | None
    reports: tuple[StatusReport, ...]
    raw: bytes = field(default=b"", repr=False)
