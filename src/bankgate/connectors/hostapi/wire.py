"""Host API JSON ⇄ domain values (docs/hostapi-protocol.md). Pure functions, no I/O.

A bank answer that is not what the protocol says raises `MalformedAnswer` naming the field;
the channel decides what that means (an unknown outcome for a submit, a failed read
otherwise). Amounts must carry exactly the currency's decimals; account numbers leave the
process only through `AccountNumber.reveal()`; every report and entry keeps its raw line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

from bankgate.connectors.base import SubmitLine
from bankgate.connectors.hostapi.banks import Dialect
from bankgate.domain import (
    AccountNumber,
    Balance,
    BalanceType,
    Batch,
    CompanyAccount,
    Currency,
    EntryKey,
    EntryStatus,
    InstructionId,
    Money,
    Outcome,
    Source,
    Statement,
    StatementEntry,
    StatusReport,
    SubmissionAck,
    currency,
    mask_numbers,
    parse_amount,
)
from bankgate.errors import BankgateError, DomainError

__all__ = [
    "MalformedAnswer",
    "batch_request",
    "line_bytes",
    "list_field",
    "signed_amount",
    "text_field",
    "time_field",
    "to_balance",
    "to_balances",
    "to_entries",
    "to_entry",
    "to_statement",
    "to_status_report",
    "to_submission_ack",
]

_REASON_MAX = 255


class MalformedAnswer(BankgateError):
    """The bank's answer breaks the protocol (missing field, wrong type, wrong scale)."""

    code = "malformed_answer"


def batch_request(batch: Batch, debtor: CompanyAccount, lines: Sequence[SubmitLine],
                  callback_url: str | None) -> dict[str, Any]:
    """The submit body for a batch (amounts as strings in the currency's scale)."""
    return {"batch_id": batch.id, "debtor_account": debtor.number.reveal(),
            "currency": batch.key.currency.code,
            "execution_date": batch.key.execution_date.isoformat(),
            "callback_url": callback_url,
            "orders": [_order_line(line) for line in lines]}


def _order_line(line: SubmitLine) -> dict[str, Any]:
    """One order of the submit body; `bank_confirmation` only when the bank must hold it."""
    item: dict[str, Any] = {"instruction_id": line.order.instruction_id,
                            "amount": f"{line.order.amount.amount:f}",
                            "payee_name": line.payee.name,
                            "payee_account": line.payee.account.reveal(),
                            "payee_bank": line.payee.bank, "remittance": line.order.remittance}
    if line.bank_confirmation:
        item["bank_confirmation"] = True
    return item


def line_bytes(line: Any) -> bytes:
    """One answer line as compact JSON: the raw evidence kept with its report."""
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()


def to_status_report(line: Any, dialect: Dialect, *, raw: bytes = b"") -> StatusReport:
    """One order line of a submit answer, status answer or callback.

    A status code not in the dialect's table is `UNRECOGNIZED` with the code kept (B-13).
    A line carrying the dialect's duplicate-instruction code (B-05) says nothing about *this*
    send: it is `RECEIVED` ("the bank holds this id"), `bank_code` is the duplicate code,
    `reason_code` is DU05 and the held order's own status stays in `raw`; the service asks
    with a status query.
    """
    if not isinstance(line, Mapping):
        raise MalformedAnswer(f"an order line is {type(line).__name__}, not an object")
    instruction = text_field(line, "instruction_id")
    status = text_field(line, "status")
    error_code = _optional_text(line, "error_code")
    message = _optional_text(line, "error_message")
    outcome, bank_code = dialect.outcome(status), status
    reason_code = reason = None
    if error_code is not None:
        meaning = dialect.error(error_code)
        reason_code = meaning.reason_code
        reason = mask_numbers(f"{error_code}: {message or meaning.text}")[:_REASON_MAX]
        if dialect.is_duplicate(error_code):
            outcome, bank_code = Outcome.RECEIVED, error_code
    at = line.get("updated_at", line.get("at"))
    return StatusReport(instruction_id=InstructionId(instruction), outcome=outcome,
                        bank_code=bank_code, reason_code=reason_code, reason=reason,
                        reported_at=time_field(at, "updated_at") if at is not None else None,
                        bank_reference=_optional_text(line, "bank_reference"),
                        amount=_paid_amount(line), creditor_account=_paid_to(line),
                        raw=raw or line_bytes(line))


def _paid_amount(line: Mapping[str, Any]) -> Money | None:
    """The `amount` and `currency` a callback says were paid (both or neither)."""
    if line.get("amount") is None and line.get("currency") is None:
        return None
    code = text_field(line, "currency")
    try:
        cur = currency(code)
    except DomainError as exc:
        raise MalformedAnswer(f"field 'currency': {exc}") from exc
    return signed_amount(line, "amount", cur)


def _paid_to(line: Mapping[str, Any]) -> AccountNumber | None:
    """The payee account a callback says was paid, if it says one."""
    text = _optional_text(line, "creditor_account")
    if text is None:
        return None
    try:
        return AccountNumber.parse(text, field="creditor_account")
    except DomainError as exc:
        raise MalformedAnswer(str(exc)) from exc


def to_submission_ack(answer: Any, batch: Batch, lines: Sequence[SubmitLine],
                      dialect: Dialect, *, raw: bytes) -> SubmissionAck:
    """A submit answer: this batch, one line per order sent, no id we did not send or twice."""
    if not isinstance(answer, Mapping) or answer.get("batch_id") != batch.id:
        raise MalformedAnswer("field 'batch_id': the answer names another batch")
    reports = tuple(_at(f"orders[{i}]", lambda o=o: to_status_report(o, dialect))
                    for i, o in enumerate(list_field(answer, "orders")))
    asked = {line.order.instruction_id for line in lines}
    answered = [r.instruction_id for r in reports]
    strangers = sorted(set(answered) - asked)
    if strangers:
        raise MalformedAnswer(f"the answer names instruction id {strangers[0]!r}, not sent")
    if len(set(answered)) != len(answered):
        raise MalformedAnswer("the answer names one instruction id twice")
    return SubmissionAck(batch_id=batch.id, reports=reports, raw=raw,
                         bank_reference=_optional_text(answer, "bank_reference"))


def to_balance(item: Any, account: CompanyAccount, bank: str) -> tuple[Balance, Balance]:
    """One account's balances: ledger (`INTERIM_BOOKED`) and available (`INTERIM_AVAILABLE`)."""
    cur = _currency(item, account)
    as_of = time_field(item.get("as_of"), "as_of")
    source = Source(origin=f"hostapi:{bank}/balances", where=account.id)
    return (Balance(account=account.id, type=BalanceType.INTERIM_BOOKED, code="ITBD",
                    amount=signed_amount(item, "ledger", cur), as_of=as_of, source=source),
            Balance(account=account.id, type=BalanceType.INTERIM_AVAILABLE, code="ITAV",
                    amount=signed_amount(item, "available", cur), as_of=as_of, source=source))


def to_balances(answer: Any, accounts: Sequence[CompanyAccount], bank: str) -> list[Balance]:
    """Two balances per account, in request order, in our account ids."""
    items = list_field(answer, "balances")
    if len(items) != len(accounts):
        raise MalformedAnswer(f"balances: {len(items)} answered for {len(accounts)} asked")
    balances: list[Balance] = []
    for index, (item, account) in enumerate(zip(items, accounts, strict=True)):
        if text_field(item, "account") != account.number.reveal():
            raise MalformedAnswer(f"balances[{index}]: the bank answered for an account "
                                  "not asked about")
        balances.extend(to_balance(item, account, bank))
    return balances


_ENTRY_STATUS: Final = {"booked": EntryStatus.BOOKED, "pending": EntryStatus.PENDING}


def to_entry(item: Any, account: CompanyAccount, origin: str) -> StatementEntry:
    """One entry (booked, or pending: a credit in transit); its identity is the serial (流水号)."""
    if not isinstance(item, Mapping):
        raise MalformedAnswer(f"an entry is {type(item).__name__}, not an object")
    serial = text_field(item, "serial")
    instruction = _optional_text(item, "instruction_id")
    amount = signed_amount(item, "amount", account.currency)
    status = _ENTRY_STATUS.get(item.get("status", "booked"))
    if status is None:
        raise MalformedAnswer(f"status: {item.get('status')!r} is not booked or pending")
    if status is EntryStatus.BOOKED:  # a pending credit (在途) has no balance after it yet
        # checked: a wrong scale is malformed
        signed_amount(item, "balance_after", account.currency)
    return StatementEntry(
        key=EntryKey("bank_reference", serial), amount=amount, status=status,
        booking_date=_date(item, "booking_date"), value_date=_date(item, "value_date"),
        bank_reference=serial, end_to_end_id=instruction, instruction_id=instruction,
        counterparty_name=_optional_text(item, "counterparty_name"),
        counterparty_account=_optional_text(item, "counterparty_account"),
        remittance=_optional_text(item, "remittance"),
        source=Source(origin=origin, where=serial), raw=line_bytes(item))


def to_entries(answer: Any, account: CompanyAccount, origin: str) -> list[StatementEntry]:
    """The entries of a transactions answer, after checking its account and currency."""
    _same_account(answer, account)
    _currency(answer, account)
    return [_at(f"entries[{i}]", lambda e=e: to_entry(e, account, origin))
            for i, e in enumerate(list_field(answer, "entries"))]


def to_statement(answer: Any, account: CompanyAccount, on: date, bank: str,
                 raw: bytes) -> Statement:
    """An end-of-day statement with its opening and closing balances."""
    origin = f"hostapi:{bank}/statement/{on.isoformat()}"
    entries = to_entries(answer, account, origin)
    if _date(answer, "date") != on:
        raise MalformedAnswer(f"statement: the answer is for {answer['date']}, not {on}")
    source = Source(origin=origin)
    at = datetime.combine(on, datetime.min.time(), UTC)
    opening = Balance(account=account.id, type=BalanceType.OPENING_BOOKED, code="OPBD",
                      amount=signed_amount(answer, "opening", account.currency), as_of=at,
                      source=source)
    closing = Balance(account=account.id, type=BalanceType.CLOSING_BOOKED, code="CLBD",
                      amount=signed_amount(answer, "closing", account.currency), as_of=at,
                      source=source)
    digest = hashlib.sha256(f"{bank}|{account.number.reveal()}|{on}".encode()).hexdigest()
    return Statement(id=f"st_{digest[:32]}", account=account.id, currency=account.currency,
                     opening=opening, closing=closing, entries=tuple(entries), source=source,
                     on=on, raw=raw, balances=(opening, closing))


def _at(where: str, convert: Any) -> Any:
    try:
        return convert()
    except MalformedAnswer as exc:
        raise MalformedAnswer(f"{where}: {exc}") from exc


def text_field(item: Any, name: str) -> str:
    """The non-empty text field `name` of an answer object; MalformedAnswer otherwise."""
    value = item.get(name) if isinstance(item, Mapping) else None
    if not isinstance(value, str) or not value:
        raise MalformedAnswer(f"field {name!r} is missing or not text (got {value!r:.40})")
    return value


def _optional_text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedAnswer(f"field {name!r} is {type(value).__name__}, not text or null")
    return value


def list_field(answer: Any, name: str) -> list[Any]:
    """The list field `name` of an answer object; MalformedAnswer otherwise."""
    value = answer.get(name) if isinstance(answer, Mapping) else None
    if not isinstance(value, list):
        raise MalformedAnswer(f"field {name!r} is missing or not a list")
    return value


def _same_account(answer: Any, account: CompanyAccount) -> None:
    if text_field(answer, "account") != account.number.reveal():
        raise MalformedAnswer("field 'account': the answer is for another account")


def _currency(item: Any, account: CompanyAccount) -> Currency:
    code = text_field(item, "currency")
    if code != account.currency.code:
        raise MalformedAnswer(f"field 'currency': {code!r} differs from the account's "
                              f"{account.currency.code}")
    return account.currency


def signed_amount(item: Any, name: str, cur: Currency) -> Money:
    """A signed amount: the absolute value parsed in `cur`'s exact scale, then negated."""
    text = text_field(item, name)
    digits = text.removeprefix("-")
    if digits.startswith(("-", "+")) or digits != digits.strip():
        raise MalformedAnswer(f"field {name!r}: {text!r} is not a plain signed amount")
    try:
        money = parse_amount(digits, cur, field=name)
    except DomainError as exc:
        raise MalformedAnswer(f"field {name!r}: {exc}") from exc
    if f"{money.amount:f}" != digits:
        raise MalformedAnswer(f"field {name!r}: {text!r} is not in {cur.code}'s scale "
                              f"({cur.minor_units} decimals)")
    return -money if text.startswith("-") else money


def _date(item: Any, name: str) -> date:
    text = text_field(item, name)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise MalformedAnswer(f"field {name!r}: {text!r} is not a YYYY-MM-DD date") from exc


def time_field(value: Any, name: str) -> datetime:
    """An ISO 8601 time with a zone (field `name`), as aware UTC; MalformedAnswer otherwise."""
    if not isinstance(value, str):
        raise MalformedAnswer(f"field {name!r} is missing or not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedAnswer(f"field {name!r}: {value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise MalformedAnswer(f"field {name!r}: {value!r} has no time zone")
    return parsed.astimezone(UTC)
