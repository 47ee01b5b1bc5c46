"""Statements → the normalized JSON of `bankgate parse --json` (DESIGN.md, Interfaces)."""

from __future__ import annotations

from typing import Any

from bankgate.domain import Balance, EntryDetail, Money, Statement, StatementEntry
from bankgate.formats.iso20022.pain002 import PaymentStatus

__all__ = ["document", "status_lines"]


def document(fmt: str, statements: list[Statement],
             status_reports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One JSON-ready object: the format, every statement, every status report line."""
    return {"format": fmt, "statements": [_statement(s) for s in statements],
            "status_reports": status_reports or []}


def status_lines(lines: list[PaymentStatus]) -> list[dict[str, Any]]:
    """pain.002 status lines: per original message, payment block and order."""
    return [{"level": line.level, "original_message_id": line.original_message_id,
             "original_payment_information_id": line.original_payment_information_id,
             "original_instruction_id": line.original_instruction_id,
             "original_end_to_end_id": line.original_end_to_end_id, "status": line.status,
             "outcome": line.outcome.value, "reason_codes": list(line.reason_codes),
             "additional_info": line.additional_info, "where": line.where} for line in lines]


def _amount(money: Money | None) -> str | None:
    return None if money is None else f"{money.amount:f}"


def _balance(balance: Balance | None) -> dict[str, Any] | None:
    if balance is None:
        return None
    return {"type": balance.type.value, "code": balance.code, "amount": _amount(balance.amount),
            "currency": balance.amount.currency.code, "date": balance.as_of.date().isoformat()}


def _statement(stmt: Statement) -> dict[str, Any]:
    return {"id": stmt.id,
            "account": {"iban": stmt.iban, "number": None if stmt.iban else stmt.account,
                        "currency": stmt.currency.code},
            "date": stmt.on.isoformat() if stmt.on else None,
            "opening_balance": _balance(stmt.opening), "closing_balance": _balance(stmt.closing),
            "balances": [_balance(b) for b in stmt.balances],
            "entries": [_entry(e) for e in stmt.entries], "where": stmt.source.where}


def _entry(entry: StatementEntry) -> dict[str, Any]:
    return {"amount": _amount(entry.amount), "currency": entry.amount.currency.code,
            "status": entry.status.value,
            "booking_date": entry.booking_date.isoformat() if entry.booking_date else None,
            "value_date": entry.value_date.isoformat() if entry.value_date else None,
            "bank_reference": entry.bank_reference, "end_to_end_id": entry.end_to_end_id,
            "reversal": entry.is_reversal, "bank_transaction_code": entry.bank_transaction_code,
            "key": {"kind": entry.key.kind, "value": entry.key.value},
            "counterparty": {"name": entry.counterparty_name,
                             "account": entry.counterparty_account},
            "remittance": entry.remittance,
            "transactions": [_detail(d) for d in entry.transactions]}


def _detail(detail: EntryDetail) -> dict[str, Any]:
    return {"amount": _amount(detail.amount), "end_to_end_id": detail.end_to_end_id,
            "instruction_id": detail.instruction_id, "transaction_id": detail.transaction_id,
            "uetr": detail.uetr, "account_servicer_reference": detail.account_servicer_reference,
            "counterparty": {"name": detail.counterparty_name,
                             "account": detail.counterparty_account},
            "remittance": detail.remittance, "structured_reference": detail.structured_reference,
            "return_reason": detail.return_reason}
