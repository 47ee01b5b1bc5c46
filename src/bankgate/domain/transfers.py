"""Internal transfers and cash pooling (资金调拨): money between our own accounts.

A transfer has two legs: out (the payment order debiting the source account) and in (the
credit on the target account, found in the target bank's entries by the order's instruction
id). It is `completed` only when both are seen.

    proposed → ordered → sent → completed          proposed → declined
                     ↘ failed (rejected or returned; the reason kept)

A sweep rule keeps an account near a target balance: above `sweep_above` the excess over
`target` goes to the pool's header account (上划); below `top_up_below` the header tops it up
to `target` (下拨). `plan_move` is the pure decision on a fresh balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from bankgate.domain.ids import AccountId, OrderId
from bankgate.domain.money import Money

__all__ = ["TRANSFER_NEXT", "Move", "SweepRule", "Transfer", "TransferState", "plan_move"]


class TransferState(StrEnum):
    """Where a transfer is."""

    PROPOSED = "proposed"  # waiting for a person (a sweep the policy does not run alone)
    DECLINED = "declined"
    ORDERED = "ordered"  # the out-leg order exists
    SENT = "sent"  # the out-leg settled; the in-leg credit is not seen yet
    COMPLETED = "completed"  # both legs seen
    FAILED = "failed"


T = TransferState
TRANSFER_NEXT: Final = {
    T.PROPOSED: frozenset({T.ORDERED, T.DECLINED}),
    T.ORDERED: frozenset({T.SENT, T.COMPLETED, T.FAILED}),
    T.SENT: frozenset({T.COMPLETED, T.FAILED}),
    T.DECLINED: frozenset(),
    T.COMPLETED: frozenset(),
    T.FAILED: frozenset(),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """Money between two of our accounts."""

    id: str
    source: AccountId
    target: AccountId
    amount: Money
    state: TransferState
    reason: str  # why it exists ("sweep cmb-pool: balance 800000.00 CNY above …")
    rule_id: str | None
    order_id: OrderId | None
    in_reference: str | None  # the target bank's serial of the credit
    failure: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRule:
    """Keep `account` near `target`, sweeping to and topping up from the header account."""

    id: str
    account: AccountId
    target: Money
    sweep_above: Money | None
    top_up_below: Money | None
    execute: bool  # True: run the move; False: propose it for a person to approve


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """What a rule decided for one fresh balance."""

    rule: SweepRule
    source: AccountId
    target: AccountId
    amount: Money
    reason: str


def plan_move(rule: SweepRule, balance: Money, *, header: AccountId) -> Move | None:
    """The move that brings `rule.account` back to its target, or None when none is due."""
    if rule.sweep_above is not None and balance > rule.sweep_above:
        excess = balance - rule.target
        return Move(rule=rule, source=rule.account, target=header, amount=excess,
                    reason=f"sweep {rule.id}: balance {balance} is above {rule.sweep_above}; "
                           f"{excess} over the target {rule.target} goes to {header}")
    if rule.top_up_below is not None and balance < rule.top_up_below:
        short = rule.target - balance
        return Move(rule=rule, source=header, target=rule.account, amount=short,
                    reason=f"top-up {rule.id}: balance {balance} is below {rule.top_up_below}; "
                           f"{short} from {header} brings it to the target {rule.target}")
    return None
