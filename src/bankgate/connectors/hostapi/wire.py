"""Host API JSON ⇄ domain values (docs/hostapi-protocol.md). Pure functions, no I/O.

A bank answer that is not what the protocol says raises `MalformedAnswer` naming the field;
the client decides what that means (an unknown outcome for a submit, a retry for a read).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from bankgate.connectors.base import SubmitLine
from bankgate.connectors.hostapi.banks import Dialect
from bankgate.domain import (
    Balance,
    BalanceType,
    Batch,
    CompanyAccount,
    Currency,
    EntryKey,
    EntryStatus,
    InstructionId,
    Money,
    Source,
    Statement,
    StatementEntry,
    StatusReport,
    mask_numbers,
    parse_amount,
)
from bankgate.errors import BankgateError, DomainError

__all__ = [
    "MalformedAnswer",
    "batch_request",
    "line_bytes",
    "to_balances",
    "to_entry",
    "to_statement",
    "to_status_report",
]


class MalformedAnswer(BankgateError):
    """The bank's answer breaks the protocol (missing field, wrong type, wrong scale)."""

    code = "malformed_answer"


def batch_request(batch: Batch, debtor: CompanyAccount, lines: Sequence[SubmitLine],
                  callback_url: str | None) -> dict[str, Any]:
    """The submit body for a batch."""
    return {"batch_id": batch.id, "debtor_account": debtor.number.reveal(),
            "currency": batch.key.currency.code,
            "execution_date": batch.key.execution_date.isoformat(),
            "callback_url": callback_url,
            "orders": [{"instruction_id": line.order.instruction_id,
                        "amount": f"{line.order.amount.amount:f}",
                        "payee_name": line.payee.name,
                        "payee_account": line.payee.account.reveal(),
                        "payee_bank": line.payee.bank,
                        "remittance": line.order.remittance} for line in lines]}


def line_bytes(line: Any) -> bytes:
    """One answer line as compact JSON: the raw evidence kept with its report."""
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()


def to_status_report(line: Any, dialect: Dialect, *, raw: bytes = b"") -> StatusReport:
    """One order line of a submit answer, status answer or callback."""
    if not isinstance(line, Mapping):
        raise MalformedAnswer(f"an order line is {type(line).__name__}, not an object")
    instruction = _text(line, "instruction_id")
    status = _text(line, "status")
    error_code = line.get("error_code")
    reason_code = reason = None
    if error_code is not None:
        meaning = dialect.error(str(error_code))
        reason_code = meaning.reason_code
        reason = mask_numbers(str(line.get("error_message") or meaning.text))[:255]
    return StatusReport(instruction_id=InstructionId(instruction),
                        outcome=dialect.outcome(status), bank_code=status,
                        reason_code=reason_code, reason=reason,
                        reported_at=_time(line.get("updated_at") or line.get("at")),
                        bank_reference=line.get("bank_reference"), raw=raw)


def to_balances(answer: Any, accounts: Sequence[CompanyAccount], bank: str) -> list[Balance]:
    """Two balances (ledger and available) per account, in our account ids."""
    items = _list(answer, "balances")
    by_number = {a.number.reveal(): a for a in accounts}
    balances: list[Balance] = []
    for item in items:
        account = by_number.get(_text(item, "account"))
        if account is None:
            raise MalformedAnswer("balances: the bank answered for an account not asked about")
        cur = _currency(item, account)
        as_of = _time(item.get("as_of")) or datetime.now(UTC)
        source = Source(origin=f"hostapi:{bank}/balances")
        balances += [Balance(account=account.id, type=BalanceType.INTERIM_BOOKED,
                             amount=_signed(item, "ledger", cur), as_of=as_of, source=source),
                     Balance(account=account.id, type=BalanceType.INTERIM_AVAILABLE,
                             amount=_signed(item, "available", cur), as_of=as_of,
                             source=source)]
    return balances


def to_entry(item: Any, account: CompanyAccount, origin: str) -> StatementEntry:
    """One booked entry; its identity is the bank's serial (流水号)."""
    serial = _text(item, "serial")
    return StatementEntry(
        key=EntryKey("bank_reference", serial), amount=_signed(item, "amount", account.currency),
        status=EntryStatus.BOOKED, booking_date=_date(item, "booking_date"),
        value_date=_date(item, "value_date"), bank_reference=serial,
        end_to_end_id=item.get("instruction_id") or None,
        counterparty_name=item.get("counterparty_name"),
        counterparty_account=item.get("counterparty_account"),
        remittance=item.get("remittance") or None,
        source=Source(origin=origin, where=serial))


def to_statement(answer: Any, account: CompanyAccount, on: date, bank: str,
                 raw: bytes) -> Statement:
    """An end-of-day statement with its opening and closing balances."""
    if not isinstance(answer, Mapping):
        raise MalformedAnswer("statement: the answer is not an object")
    _currency(answer, account)
    origin = f"hostapi:{bank}/statement/{on.isoformat()}"
    source = Source(origin=origin)
    at = datetime.combine(on, datetime.min.time(), UTC)
    opening = Balance(account=account.id, type=BalanceType.OPENING_BOOKED,
                      amount=_signed(answer, "opening", account.currency), as_of=at,
                      source=source)
    closing = Balance(account=account.id, type=BalanceType.CLOSING_BOOKED,
                      amount=_signed(answer, "closing", account.currency), as_of=at,
                      source=source)
    entries = tuple(to_entry(e, account, origin) for e in _list(answer, "entries"))
    digest = hashlib.sha256(f"{bank}|{account.number.reveal()}|{on}".encode()).hexdigest()
    return Statement(id=f"st_{digest[:32]}", account=account.id, currency=account.currency,
                     opening=opening, closing=closing, entries=entries, source=source, on=on,
                     raw=raw)


def _text(item: Any, name: str) -> str:
    value = item.get(name) if isinstance(item, Mapping) else None
    if not isinstance(value, str) or not value:
        raise MalformedAnswer(f"field {name!r} is missing or not text")
    return value


def _list(answer: Any, name: str) -> list[Any]:
    value = answer.get(name) if isinstance(answer, Mapping) else None
    if not isinstance(value, list):
        raise MalformedAnswer(f"field {name!r} is missing or not a list")
    return value


def _currency(item: Any, account: CompanyAccount) -> Currency:
    code = _text(item, "currency")
    if code != account.currency.code:
        raise MalformedAnswer(f"currency {code!r} differs from the account's "
                              f"{account.currency.code}")
    return account.currency


def _signed(item: Any, name: str, cur: Currency) -> Money:
    text = _text(item, name)
    negative = text.startswith("-")
    try:
        money = parse_amount(text.removeprefix("-"), cur, field=name)
    except DomainError as exc:
        raise MalformedAnswer(f"field {name!r}: {exc}") from exc
    if f"{money.amount:f}" != text.removeprefix("-"):
        raise MalformedAnswer(f"field {name!r}: {text!r} is not in {cur.code}'s scale")
    return -money if negative else money


def _date(item: Any, name: str) -> date:
    try:
        return date.fromisoformat(_text(item, name))
    except ValueError as exc:
        raise MalformedAnswer(f"field {name!r} is not a date") from exc


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
