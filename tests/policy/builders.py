"""Builders for policy tests: an order as it would be in the store, and policy text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bankgate.domain import (
    AccountNumber,
    FlowType,
    InstructionId,
    OrderId,
    Payee,
    PaymentOrder,
    bank_id,
    new_payment_order,
    parse_amount,
)
from tests.builders import NOW, TODAY, an_account


def an_order(amount: str = "100.00", *, flow: FlowType = FlowType.SUPPLIER,
             payee_name: str = "上海某某贸易有限公司", payee_account: str = "6222020200009000001",
             currency: str = "CNY", order_id: str = "ord-1", **changes: Any) -> PaymentOrder:
    """A draft order paying a supplier from our CNY account (or `currency`)."""
    debtor = an_account()
    if currency != "CNY":
        from bankgate.domain import currency as cur

        debtor = an_account(currency=cur(currency))
    order = new_payment_order(
        id=OrderId(order_id), instruction_id=InstructionId(f"instr-{order_id}"), flow=flow,
        debtor=debtor, payee=Payee(name=payee_name, account=AccountNumber.parse(payee_account),
                                   bank=bank_id("icbc")),
        amount=parse_amount(amount, debtor.currency), execution_date=TODAY, remittance="INV-1",
        at=NOW)
    return replace(order, **changes) if changes else order


MINIMAL = b"""
schema = 1
name = "test"
[unmatched]
approvals = 1
roles = ["approver"]
"""
