"""Identifiers: order, batch, account and instruction ids.

An instruction id is the end-to-end id a bank sees; ISO 20022 allows Max35Text, banks allow
far fewer characters than that, so ours are 32 characters of [0-9a-f], time-ordered (the first
12 are milliseconds since the epoch) so that index pages fill in order.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Final, NewType

from bankgate.domain.errors import InvalidIdentifier

__all__ = [
    "AccountId",
    "BatchId",
    "InstructionId",
    "OrderId",
    "instruction_id",
    "new_batch_id",
    "new_instruction_id",
    "new_order_id",
]

OrderId = NewType("OrderId", str)
BatchId = NewType("BatchId", str)
AccountId = NewType("AccountId", str)
InstructionId = NewType("InstructionId", str)

_INSTRUCTION: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,34}")


def _time_ordered() -> str:
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def new_instruction_id() -> InstructionId:
    """A fresh, unique end-to-end id; every resend of the order reuses it."""
    return InstructionId(_time_ordered())


def new_order_id() -> OrderId:
    """A fresh order id."""
    return OrderId("po_" + _time_ordered())


def new_batch_id() -> BatchId:
    """A fresh batch id; it doubles as the batch's message id at the bank (≤ 35 chars)."""
    return BatchId("B" + _time_ordered())


def instruction_id(text: str, *, field: str = "instruction_id") -> InstructionId:
    """An instruction id given from outside (an ERP's own end-to-end id), checked.

    ISO 20022 Max35Text narrowed to what every bank accepts: letters, digits and '-'.
    """
    if not isinstance(text, str) or not _INSTRUCTION.fullmatch(text):
        raise InvalidIdentifier(
            f"{field}: {text!r} must be 1-35 characters of letters, digits and '-'"
        )
    return InstructionId(text)
