"""Order intake: a mapping (API JSON, a CSV row, a JSON file item) → a checked order draft.

Every problem names where it is (`row 7`, `/payments/3`) and the field; a file is read whole
and refused whole if any row is wrong, listing every wrong row (up to a limit).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from bankgate.domain import (
    AccountNumber,
    CompanyAccount,
    Currency,
    FlowType,
    InstructionId,
    Money,
    Payee,
    bank_id,
    clean_text,
    currency,
    instruction_id,
    parse_amount,
)
from bankgate.errors import DomainError

__all__ = [
    "FIELDS",
    "InvalidOrderFile",
    "InvalidOrderInput",
    "OrderDraft",
    "parse_order",
    "read_order_file",
]

FIELDS: Final = ("debtor_account", "payee_name", "payee_account", "payee_bank", "amount",
                 "currency", "execution_date", "remittance", "flow", "instruction_id")
_REQUIRED: Final = ("debtor_account", "payee_name", "payee_account", "amount", "currency")
MAX_FILE_ERRORS: Final = 20
MAX_DAYS_AHEAD: Final = 365


class InvalidOrderInput(DomainError):
    """One order request that cannot become an order; names where and which field."""

    def __init__(self, where: str, field: str, message: str) -> None:
        self.where = where
        self.field = field
        self.detail = message
        super().__init__(f"{where}, field '{field}': {message}" if where else
                         f"field '{field}': {message}")


class InvalidOrderFile(DomainError):
    """A payment file refused whole; `errors` lists the rows at fault."""

    def __init__(self, origin: str, errors: Sequence[InvalidOrderInput]) -> None:
        self.origin = origin
        self.errors = list(errors)
        more = "" if len(errors) < MAX_FILE_ERRORS else " (first errors only)"
        lines = "; ".join(str(e) for e in errors[:5])
        super().__init__(f"{origin}: {len(errors)} bad row(s){more}, nothing imported: {lines}")


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderDraft:
    """A checked order request, ready to become a `PaymentOrder`."""

    debtor: CompanyAccount
    payee: Payee
    amount: Money
    execution_date: date
    remittance: str
    flow: FlowType
    instruction_id: InstructionId | None
    where: str


def parse_order(data: Mapping[str, object], *, where: str,
                accounts: Mapping[str, CompanyAccount], today: date) -> OrderDraft:
    """Check one request; raises InvalidOrderInput naming the first field at fault."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidOrderInput(where, unknown[0], "is not a field of a payment order "
                                f"(allowed: {', '.join(FIELDS)})")
    for name in _REQUIRED:
        if data.get(name) in (None, ""):
            raise InvalidOrderInput(where, name, "is required")
    return _Parser(data, where, accounts, today).draft()


class _Parser:
    def __init__(self, data: Mapping[str, object], where: str,
                 accounts: Mapping[str, CompanyAccount], today: date) -> None:
        self.data, self.where, self.accounts, self.today = data, where, accounts, today

    def field(self, name: str, check: object) -> object:
        try:
            return check(self.data.get(name))  # type: ignore[operator]
        except DomainError as exc:
            message = str(exc).removeprefix(f"{name}: ")
            raise InvalidOrderInput(self.where, name, message) from exc

    def draft(self) -> OrderDraft:
        debtor = self.field("debtor_account", self._debtor)
        cur = self.field("currency", lambda v: _currency_of(debtor, _text(v)))
        amount = self.field("amount", lambda v: _positive(parse_amount(_text(v), cur)))
        payee = Payee(
            name=self.field("payee_name", lambda v: clean_text(v, field="payee_name",
                                                               max_len=140)),
            account=self.field("payee_account", lambda v: AccountNumber.parse(_text(v))),
            bank=self.field("payee_bank", lambda v: bank_id(_text(v)) if v else None))
        return OrderDraft(
            debtor=debtor, payee=payee, amount=amount,
            execution_date=self.field("execution_date", self._date),
            remittance=self.field("remittance", lambda v: clean_text(
                v, field="remittance", max_len=140, required=False)),
            flow=self.field("flow", _flow),
            instruction_id=self.field("instruction_id",
                                      lambda v: instruction_id(_text(v)) if v else None),
            where=self.where)  # type: ignore[arg-type]

    def _debtor(self, value: object) -> CompanyAccount:
        account = self.accounts.get(_text(value))
        if account is None:
            raise DomainError(f"{value!r} is not one of our accounts")
        return account

    def _date(self, value: object) -> date:
        if value in (None, ""):
            return self.today
        try:
            day = date.fromisoformat(_text(value))
        except ValueError as exc:
            raise DomainError(f"{value!r} is not a date like 2026-11-23") from exc
        if day < self.today:
            raise DomainError(f"{day} is in the past (today is {self.today})")
        if day > self.today + timedelta(days=MAX_DAYS_AHEAD):
            raise DomainError(f"{day} is more than {MAX_DAYS_AHEAD} days ahead")
        return day


def _currency_of(debtor: CompanyAccount, code: str) -> Currency:
    found = currency(code)
    if found != debtor.currency:
        raise DomainError(f"{code} differs from the debtor account's currency "
                          f"{debtor.currency.code}")
    return found


def _positive(amount: Money) -> Money:
    if not amount.is_positive:
        raise DomainError(f"must be greater than zero, got {amount.amount}")
    return amount


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise DomainError(f"expected text, got {type(value).__name__} {value!r}")
    return value


def _flow(value: object) -> FlowType:
    if value in (None, ""):
        return FlowType.SUPPLIER
    try:
        return FlowType(_text(value))
    except ValueError as exc:
        raise DomainError(f"{value!r} is not one of "
                          f"{', '.join(f.value for f in FlowType)}") from exc


def read_order_file(content: bytes, *, origin: str, accounts: Mapping[str, CompanyAccount],
                    today: date) -> list[OrderDraft]:
    """Every order of a CSV or JSON payment file, or InvalidOrderFile listing the bad rows."""
    rows = _json_rows(content, origin) if _looks_like_json(content) else _csv_rows(content,
                                                                                   origin)
    drafts: list[OrderDraft] = []
    errors: list[InvalidOrderInput] = []
    for where, row in rows:
        if isinstance(row, InvalidOrderInput):
            errors.append(row)
            continue
        try:
            drafts.append(parse_order(row, where=where, accounts=accounts, today=today))
        except InvalidOrderInput as exc:
            errors.append(exc)
            if len(errors) >= MAX_FILE_ERRORS:
                break
    if errors:
        raise InvalidOrderFile(origin, errors)
    if not drafts:
        raise InvalidOrderFile(origin, [InvalidOrderInput("", "payments", "the file has no "
                                                          "payment rows")])
    return drafts


_Row = Mapping[str, object] | InvalidOrderInput


def _looks_like_json(content: bytes) -> bool:
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _decode(content: bytes, origin: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidOrderFile(origin, [InvalidOrderInput("", "encoding",
                                                      "neither UTF-8 nor GB18030 text")])


def _json_rows(content: bytes, origin: str) -> Iterable[tuple[str, _Row]]:
    try:
        document = json.loads(_decode(content, origin))
    except json.JSONDecodeError as exc:
        raise InvalidOrderFile(origin, [InvalidOrderInput(
            f"line {exc.lineno}", "json", exc.msg)]) from exc
    items = document.get("payments") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InvalidOrderFile(origin, [InvalidOrderInput(
            "", "payments", "expected a list of payments or {\"payments\": [...]}")])
    out: list[tuple[str, _Row]] = []
    for index, item in enumerate(items):
        where = f"/payments/{index}"
        out.append((where, item if isinstance(item, dict) else InvalidOrderInput(
            where, "payment", f"expected an object, got {type(item).__name__}")))
    return out


def _csv_rows(content: bytes, origin: str) -> Iterable[tuple[str, _Row]]:
    reader = csv.reader(io.StringIO(_decode(content, origin), newline=""))
    header = next(reader, None)
    if not header:
        raise InvalidOrderFile(origin, [InvalidOrderInput("row 1", "header", "empty file")])
    names = [h.strip() for h in header]
    out: list[tuple[str, _Row]] = []
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            out.append((f"row {line_no}", InvalidOrderInput(
                f"row {line_no}", "row", f"has {len(cells)} cells, the header {len(names)}")))
            continue
        out.append((f"row {line_no}", {n: c.strip() or None for n, c in zip(names, cells,
                                                                              strict=True)}))
    return out
