"""Host API wire format of the sandbox banks: request bodies in, JSON answers out.

hostapi-protocol.md is the contract. Input is checked strictly (a malformed or hostile
request is a 400 naming the field); codes are the bank's dialect, amounts are decimal strings
with exactly the currency's minor units.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final

from bankgate.domain import Money, bank_id, clean_text, currency, instruction_id, parse_amount
from bankgate.errors import DomainError
from bankgate.sandbox.dialects import Dialect, ErrorMeaning, StatusMeaning
from bankgate.sandbox.records import (
    AccountState,
    BatchRequest,
    Booking,
    Order,
    OrderLine,
    Refusal,
    StatusChange,
    SubmitAnswer,
)

__all__ = [
    "amount_text", "body_hash", "error_body", "iso_z", "load_json", "parse_balances",
    "parse_batch", "parse_date", "parse_status", "render_answer", "render_balance",
    "render_callback", "render_entry", "render_status",
]

MAX_ORDERS: Final = 1000
MAX_STATUS_IDS: Final = 500
MAX_BALANCE_ACCOUNTS: Final = 100
_ACCOUNT: Final = re.compile(r"[0-9A-Za-z]{1,34}")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _invalid(message: str) -> Refusal:
    return Refusal(400, ErrorMeaning.INVALID_REQUEST, message)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _invalid(f"body: key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise _invalid(f"body: {name} is not JSON")


def load_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; Refusal 400 saying where it is malformed."""
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                          parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        raise _invalid(f"body: not UTF-8 at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise _invalid(f"body: malformed JSON at line {exc.lineno} column {exc.colno}: "
                       f"{exc.msg}") from exc
    except RecursionError as exc:
        raise _invalid("body: JSON nested too deeply") from exc
    if not isinstance(data, dict):
        raise _invalid(f"body: expected a JSON object, got {type(data).__name__}")
    return data


def body_hash(data: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a body (key order and spacing do not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str,
           *, optional: bool = False) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        got = "missing" if name not in data else f"{type(value).__name__} {value!r}"[:80]
        raise _invalid(f"{where}{name}: expected {expected}, got {got}")
    return value


def _list(data: dict[str, Any], name: str, low: int, high: int) -> list[Any]:
    items: list[Any] = _field(data, name, list, "")
    if not low <= len(items) <= high:
        raise _invalid(f"{name}: {len(items)} items, expected {low} to {high}")
    return items


def _account(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        raise _invalid(f"{where}: {str(value)[:40]!r} is not an account number "
                       "(1-34 letters or digits)")
    return value


def _checked(where: str, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except DomainError as exc:
        message = str(exc)
        raise _invalid(message if message.startswith(where) else f"{where}: {message}") from exc


def parse_date(text: Any, where: str) -> date:
    """A YYYY-MM-DD date; Refusal 400 naming `where`."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise _invalid(f"{where}: {str(text)[:40]!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _invalid(f"{where}: {text!r} is not a calendar date") from exc


def parse_balances(data: dict[str, Any]) -> list[str]:
    """`POST /balances`: 1-100 account numbers."""
    items = _list(data, "accounts", 1, MAX_BALANCE_ACCOUNTS)
    return [_account(item, f"accounts[{i}]") for i, item in enumerate(items)]


def parse_status(data: dict[str, Any]) -> list[str]:
    """`POST /payments/status`: 1-500 instruction ids."""
    items = _list(data, "instruction_ids", 1, MAX_STATUS_IDS)
    return [_instruction(item, f"instruction_ids[{i}]") for i, item in enumerate(items)]


def _instruction(value: Any, where: str) -> str:
    try:
        return instruction_id(value, field=where)
    except DomainError as exc:
        raise _invalid(str(exc)) from exc


def parse_batch(data: dict[str, Any]) -> BatchRequest:
    """`POST /payments/batches`: the batch with 1-1000 orders, every field checked."""
    batch = _checked("batch_id", lambda: instruction_id(_field(data, "batch_id", str, ""),
                                                        field="batch_id"))
    debtor = _account(_field(data, "debtor_account", str, ""), "debtor_account")
    code = _field(data, "currency", str, "")
    cur = _checked("currency", lambda: currency(code))
    execution = parse_date(_field(data, "execution_date", str, ""), "execution_date")
    callback = _field(data, "callback_url", str, "", optional=True)
    if callback is not None and (not re.fullmatch(r"https?://[^\s]{1,2040}", callback)):
        raise _invalid(f"callback_url: {callback[:60]!r} is not an http(s) URL")
    items = _list(data, "orders", 1, MAX_ORDERS)
    orders = tuple(_order(item, f"orders[{i}].", cur.code) for i, item in enumerate(items))
    return BatchRequest(batch_id=batch, debtor_account=debtor, currency=cur.code,
                        execution_date=execution, callback_url=callback, orders=orders)


def _order(item: Any, where: str, code: str) -> OrderLine:
    if not isinstance(item, dict):
        raise _invalid(f"{where[:-1]}: expected an object, got {type(item).__name__}")
    iid = _checked(f"{where}instruction_id", lambda: instruction_id(
        _field(item, "instruction_id", str, where), field=f"{where}instruction_id"))
    raw_amount = item.get("amount")
    if not isinstance(raw_amount, str):
        raise _invalid(f"{where}amount: amounts are decimal strings like \"1200.00\", got "
                       f"{type(raw_amount).__name__} {raw_amount!r}"[:160])
    money: Money = _checked(f"{where}amount", lambda: parse_amount(
        raw_amount, currency(code), field=f"{where}amount"))
    if raw_amount != f"{money.amount:f}":
        raise _invalid(f"{where}amount: {raw_amount!r} must have exactly "
                       f"{money.currency.minor_units} decimals for {code}, like "
                       f"{money.amount:f}")
    if not money.is_positive:
        raise _invalid(f"{where}amount: {raw_amount} is not above zero")
    name = _checked(f"{where}payee_name", lambda: clean_text(
        item.get("payee_name"), field=f"{where}payee_name", max_len=140))
    account = _account(item.get("payee_account"), f"{where}payee_account")
    payee_bank = item.get("payee_bank")
    if payee_bank is not None:
        payee_bank = _checked(f"{where}payee_bank",
                              lambda: bank_id(payee_bank, field=f"{where}payee_bank"))
    remittance = _checked(f"{where}remittance", lambda: clean_text(
        item.get("remittance"), field=f"{where}remittance", max_len=140, required=False))
    confirm = item.get("bank_confirmation", False)
    if not isinstance(confirm, bool):
        raise _invalid(f"{where}bank_confirmation: expected true or false, got "
                       f"{type(confirm).__name__} {confirm!r}"[:160])
    return OrderLine(instruction_id=iid, amount_minor=money.to_minor(), payee_name=name,
                     payee_account=account, payee_bank=payee_bank, remittance=remittance,
                     bank_confirmation=confirm)


# -- answers ---------------------------------------------------------------------------------


def iso_z(moment: datetime) -> str:
    """ISO 8601 UTC with Z, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def amount_text(minor: int, code: str) -> str:
    """Minor units as a decimal string with exactly the currency's decimals."""
    return f"{Money.from_minor(minor, currency(code)).amount:f}"


def error_body(code: str, message: str) -> dict[str, Any]:
    """The protocol's error body."""
    return {"error": {"code": code, "message": message}}


def render_balance(state: AccountState, as_of: datetime) -> dict[str, Any]:
    """One line of the balances answer."""
    balance = amount_text(state.balance_minor, state.currency)
    return {"account": state.number, "currency": state.currency, "ledger": balance,
            "available": balance, "as_of": iso_z(as_of)}


def render_entry(booking: Booking, code: str) -> dict[str, Any]:
    """ENTRY of the transactions and statement answers."""
    return {"serial": booking.serial, "booked_at": iso_z(booking.booked_at),
            "booking_date": booking.booking_date.isoformat(),
            "value_date": booking.booking_date.isoformat(),
            "amount": amount_text(booking.amount_minor, code),
            "balance_after": amount_text(booking.balance_after_minor, code),
            "counterparty_name": booking.counterparty_name,
            "counterparty_account": booking.counterparty_account,
            "instruction_id": booking.instruction_id, "remittance": booking.remittance}


def render_pending(order: Order, code: str, on: date) -> dict[str, Any]:
    """A credit on its way (在途, not booked): ENTRY with `status` "pending", no balance."""
    line = order.line
    return {"serial": f"P{line.instruction_id}"[:35], "status": "pending", "booked_at": None,
            "booking_date": on.isoformat(), "value_date": on.isoformat(),
            "amount": amount_text(line.amount_minor, code),
            "counterparty_name": order.debtor_name, "counterparty_account": order.debtor_account,
            "instruction_id": line.instruction_id, "remittance": line.remittance}


def _error(dialect: Dialect, meaning: ErrorMeaning | None) -> str | None:
    return None if meaning is None else dialect.error(meaning)


def render_answer(answer: SubmitAnswer, dialect: Dialect) -> dict[str, Any]:
    """The submit answer, one line per order in request order."""
    return {"batch_id": answer.batch_id, "bank_reference": answer.bank_reference,
            "orders": [{"instruction_id": line.instruction_id,
                        "status": dialect.status(line.status),
                        "error_code": _error(dialect, line.error),
                        "error_message": line.error_message} for line in answer.lines]}


def render_status(iid: str, order: Order | None, dialect: Dialect) -> dict[str, Any]:
    """One line of the status answer; the dialect's not_found status for unknown ids."""
    if order is None:
        return {"instruction_id": iid, "status": dialect.status(StatusMeaning.NOT_FOUND),
                "error_code": None, "error_message": None, "bank_reference": None,
                "updated_at": None}
    return {"instruction_id": iid, "status": dialect.status(order.status),
            "error_code": _error(dialect, order.error), "error_message": order.error_message,
            "bank_reference": order.bank_reference, "updated_at": iso_z(order.updated_at)}


def render_callback(change: StatusChange, dialect: Dialect) -> dict[str, Any]:
    """The callback body for one status change."""
    order = change.order
    return {"callback_id": change.callback_id, "bank": order.bank,
            "instruction_id": order.line.instruction_id,
            "status": dialect.status(order.status),
            "error_code": _error(dialect, order.error), "error_message": order.error_message,
            "amount": amount_text(order.line.amount_minor, order.currency),
            "currency": order.currency, "creditor_account": order.line.payee_account,
            "at": iso_z(order.updated_at)}
