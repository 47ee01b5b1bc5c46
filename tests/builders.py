"""Builders for tests: small functions with sane defaults (`an_account()`, `a_draft()`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bankgate.domain import (
    AccountId,
    AccountNumber,
    CompanyAccount,
    FlowType,
    Payee,
    bank_id,
    currency,
    parse_amount,
)
from bankgate.services.intake import OrderDraft

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def an_account(**overrides: Any) -> CompanyAccount:
    """Our CNY operating account at icbc, unless told otherwise."""
    values: dict[str, Any] = {
        "id": AccountId("acc-icbc"), "bank": bank_id("icbc"),
        "number": AccountNumber.parse("6222020200001000001"), "currency": currency("CNY"),
        "name": "示例科技有限公司", "purpose": "operating"}
    values.update(overrides)
    return CompanyAccount(**values)


def a_draft(debtor: CompanyAccount | None = None, *, amount: str = "100.00",
            payee_account: str = "6222020200009000001", payee_name: str = "上海某某贸易有限公司",
            payee_bank: str | None = "icbc", execution_date: date = TODAY) -> OrderDraft:
    """A checked order request paying a supplier."""
    debtor = debtor or an_account()
    return OrderDraft(
        debtor=debtor,
        payee=Payee(name=payee_name, account=AccountNumber.parse(payee_account),
                    bank=bank_id(payee_bank) if payee_bank else None),
        amount=parse_amount(amount, debtor.currency), execution_date=execution_date,
        remittance="INV-2026-001", flow=FlowType.SUPPLIER, instruction_id=None, where="")
