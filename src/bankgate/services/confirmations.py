"""Orders the bank holds for a second confirmation in its portal (网银二次确认, B-19).

Such an order stays `awaiting_bank_confirmation` for as long as the bank holds it — days,
sometimes — and is never timed out to a failure or to `unknown`: only the bank's word moves
it (confirmed → accepted → settled; refused → rejected with the bank's reason). What a
person needs is a reminder: this listing, oldest first, and the status poll's warning log
once an order has waited `FollowUp.confirmation_remind_s`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bankgate.domain import Status
from bankgate.services._tx import UowFactory

__all__ = ["AwaitingConfirmation", "awaiting_confirmation"]

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AwaitingConfirmation:
    """One order held at its bank for the second confirmation."""

    order_id: str
    instruction_id: str
    bank: str
    amount: str
    currency: str
    payee: str
    since: datetime
    waiting_s: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (amount as a decimal string, times ISO 8601)."""
        return {"order_id": self.order_id, "instruction_id": self.instruction_id,
                "bank": self.bank, "amount": self.amount, "currency": self.currency,
                "payee": self.payee, "since": self.since.isoformat(),
                "waiting_hours": round(self.waiting_s / 3600, 2)}


def awaiting_confirmation(*, uow: UowFactory, now: Callable[[], datetime],
                          older_than_s: float = 0.0) -> list[AwaitingConfirmation]:
    """Orders awaiting the bank-side confirmation for at least `older_than_s`, oldest first."""
    at = now()
    found: list[AwaitingConfirmation] = []
    with uow() as unit:
        banks = {a.id: a.bank for a in unit.accounts.all()}
        offset = 0
        while True:
            page = unit.orders.list(status=Status.AWAITING_BANK_CONFIRMATION.value,
                                    limit=_PAGE, offset=offset)
            for order in page:
                waiting = (at - order.status_changed_at).total_seconds()
                if waiting >= older_than_s:
                    found.append(AwaitingConfirmation(
                        order_id=order.id, instruction_id=order.instruction_id,
                        bank=banks.get(order.debtor, "?"), amount=f"{order.amount.amount:f}",
                        currency=order.amount.currency.code, payee=order.payee.name,
                        since=order.status_changed_at, waiting_s=waiting))
            if len(page) < _PAGE:
                break
            offset += _PAGE
    return sorted(found, key=lambda item: item.since)
