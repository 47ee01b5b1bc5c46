"""Request and response shapes (Pydantic lives here only); converted to domain at once."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bankgate.domain import PaymentOrder
from bankgate.services.visibility import ShownOrder

__all__ = ["PaymentIn", "PaymentsIn", "order_out", "shown_out"]


class PaymentIn(BaseModel):
    """One payment order. Amounts are decimal strings, never JSON numbers."""

    model_config = ConfigDict(extra="forbid", strict=True)

    debtor_account: str = Field(description="id of one of our accounts", max_length=40)
    payee_name: str = Field(max_length=140)
    payee_account: str = Field(description="IBAN or 6-34 ASCII digits", max_length=42)
    payee_bank: str | None = Field(default=None, max_length=32)
    amount: str = Field(description="plain decimal string, e.g. \"1200.50\"", max_length=40,
                        examples=["1200.50"])
    currency: str = Field(description="ISO 4217, upper case", max_length=3, examples=["CNY"])
    execution_date: str | None = Field(default=None, description="YYYY-MM-DD, today or later")
    remittance: str | None = Field(default=None, max_length=140)
    flow: str | None = Field(default=None, description="supplier, payroll, reimbursement, "
                             "internal_transfer, tax, other")
    instruction_id: str | None = Field(default=None, max_length=35,
                                       description="your end-to-end id (optional)")


class PaymentsIn(BaseModel):
    """Several payment orders, created together or not at all."""

    model_config = ConfigDict(extra="forbid", strict=True)

    payments: list[PaymentIn] = Field(min_length=1, max_length=1000)


def shown_out(view: ShownOrder) -> dict[str, Any]:
    """An order as one caller may see it: a hidden amount is null with `amount_hidden`."""
    return order_out(view.order, amount_hidden=view.amount_hidden)


def order_out(order: PaymentOrder, debtor_bank: str | None = None, *,
              amount_hidden: bool = False) -> dict[str, Any]:
    """An order as the API shows it: amounts as strings, the payee account masked (INV-7)."""
    return {
        "id": order.id, "instruction_id": order.instruction_id, "status": order.status.value,
        "flow": order.flow.value, "debtor_account": order.debtor,
        "payee": {"name": order.payee.name, "account": str(order.payee.account),
                  "bank": order.payee.bank},
        "amount": None if amount_hidden else f"{order.amount.amount:f}",
        "amount_hidden": amount_hidden, "currency": order.amount.currency.code,
        "execution_date": order.execution_date.isoformat(), "remittance": order.remittance,
        "batch_id": order.batch_id, "reason_code": order.reason_code, "reason": order.reason,
        "created_at": order.created_at.isoformat(),
        "status_changed_at": order.status_changed_at.isoformat(),
    }
