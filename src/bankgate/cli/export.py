"""`bankgate export pain001 PAYMENTS.json --version 03|09 [-o FILE]`: payments → pain.001.

PAYMENTS.json (docs/pain001.md) names the debtor account inline, so a file can be exported
without a configured store. It is read strictly: unknown keys, JSON numbers for amounts,
unknown currencies and invalid accounts are refused with the JSON pointer of the value.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final, TypeVar

from bankgate.domain import (
    AccountId,
    AccountNumber,
    Batch,
    BatchKey,
    BatchState,
    CompanyAccount,
    Currency,
    FlowType,
    Money,
    Payee,
    PaymentOrder,
    bank_id,
    clean_text,
    currency,
    instruction_id,
    new_batch_id,
    new_instruction_id,
    new_order_id,
    new_payment_order,
    parse_amount,
)
from bankgate.domain.payments import REMITTANCE_MAX
from bankgate.errors import DomainError
from bankgate.formats.iso20022.pain001 import write_pain001

__all__ = ["InvalidPaymentsFile", "PaymentsFile", "export_pain001", "read_payments_json"]

T = TypeVar("T")
_TOP: Final = {"debtor": True, "execution_date": True, "payments": True,
               "message_id": False, "initiating_party": False}
_DEBTOR: Final = {"account": True, "name": True, "currency": True, "bank": False, "bic": False}
_PAYMENT: Final = {"payee": True, "amount": True, "currency": True, "remittance": False,
                   "end_to_end_id": False}
_PAYEE: Final = {"name": True, "account": True, "bank": False, "bic": False}
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BIC: Final = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")


class InvalidPaymentsFile(DomainError):
    """A PAYMENTS.json that cannot be exported; the message names the file and JSON pointer."""

    code = "invalid_payments_file"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentsFile:
    """What a PAYMENTS.json holds, as domain values."""

    debtor: CompanyAccount
    batch: Batch
    orders: tuple[PaymentOrder, ...]
    bics: Mapping[str, str]
    message_id: str | None
    initiating_party: str | None


def export_pain001(payments_json: Path, version: str, output: Path | None) -> None:
    """Write the pain.001 (version "03" or "09") for PAYMENTS.json to `output` or stdout.

    Raises:
        InvalidPaymentsFile: the file is not valid JSON or breaks the PAYMENTS.json shape.
        InvalidField: `version` is not "03" or "09".
        OSError: the file cannot be read or the output written.
    """
    content = payments_json.read_bytes()
    parsed = read_payments_json(content, origin=payments_json.name, now=datetime.now(UTC))
    data = write_pain001(parsed.batch, parsed.debtor, parsed.orders, version=version,
                         message_id=parsed.message_id, initiating_party=parsed.initiating_party,
                         bics=parsed.bics)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)


def read_payments_json(content: bytes, *, origin: str, now: datetime) -> PaymentsFile:
    """The debtor, batch and orders of a PAYMENTS.json document, every value checked."""
    return _Reader(origin, now).read(content)


class _Reader:
    def __init__(self, origin: str, now: datetime) -> None:
        self.origin, self.now = origin, now
        self.bics: dict[str, str] = {}

    def fail(self, pointer: str, message: str) -> InvalidPaymentsFile:
        return InvalidPaymentsFile(f"{self.origin}: {pointer or '/'}: {message}")

    def read(self, content: bytes) -> PaymentsFile:
        try:
            document = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.fail("", f"not UTF-8 JSON: {exc}") from exc
        top = self.obj(document, "", _TOP)
        debtor = self.debtor(self.obj(top["debtor"], "/debtor", _DEBTOR))
        when = self.day(top["execution_date"], "/execution_date")
        items = top["payments"]
        if not isinstance(items, list) or not items:
            raise self.fail("/payments", "must be a non-empty list of payments")
        orders = tuple(self.order(item, f"/payments/{n}", debtor, when)
                       for n, item in enumerate(items))
        self.unique(orders)
        return PaymentsFile(
            debtor=debtor, batch=self.batch(debtor, when, orders), orders=orders,
            bics=dict(self.bics),
            message_id=self.optional_text(top.get("message_id"), "/message_id", 35),
            initiating_party=self.optional_text(top.get("initiating_party"),
                                                "/initiating_party", 140))

    def obj(self, value: object, pointer: str, keys: Mapping[str, bool]) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.fail(pointer, f"must be an object, got {_kind(value)}")
        for key in value:
            if key not in keys:
                raise self.fail(f"{pointer}/{key}", f"unknown field; expected {', '.join(keys)}")
        for key, required in keys.items():
            if required and key not in value:
                raise self.fail(f"{pointer}/{key}", "is required")
        return value

    def check(self, pointer: str, parse: Callable[[], T]) -> T:
        """`parse()`, with a domain error re-raised naming `pointer`."""
        try:
            return parse()
        except DomainError as exc:
            raise self.fail(pointer, str(exc)) from exc

    def text(self, value: object, pointer: str, max_len: int) -> str:
        return self.check(pointer, lambda: clean_text(value, field="value", max_len=max_len))

    def optional_text(self, value: object, pointer: str, max_len: int) -> str | None:
        return None if value is None else self.text(value, pointer, max_len)

    def string(self, value: object, pointer: str) -> str:
        if not isinstance(value, str):
            raise self.fail(pointer, f"must be a string, got {_kind(value)}")
        return value

    def day(self, value: object, pointer: str) -> date:
        text = self.string(value, pointer)
        try:
            if _DATE.fullmatch(text):
                return date.fromisoformat(text)
        except ValueError:
            pass
        raise self.fail(pointer, f"{text!r} is not a date YYYY-MM-DD")

    def money_currency(self, value: object, pointer: str) -> Currency:
        code = self.string(value, pointer)
        return self.check(pointer, lambda: currency(code))

    def account(self, value: object, pointer: str) -> AccountNumber:
        text = self.string(value, pointer)
        return self.check(pointer, lambda: AccountNumber.parse(text, field="account"))

    def bank(self, data: Mapping[str, object], pointer: str) -> str | None:
        """The bank id (given, or the BIC in lower case); its BIC noted for the writer."""
        bic = data.get("bic")
        if bic is not None and not (isinstance(bic, str) and _BIC.fullmatch(bic)):
            raise self.fail(f"{pointer}/bic", f"{bic!r} is not a BIC (8 or 11 characters)")
        raw = data.get("bank", bic.lower() if bic else None)
        if raw is None:
            return None
        bank = self.check(f"{pointer}/bank", lambda: bank_id(self.string(raw, f"{pointer}/bank")))
        if bic is not None:
            if self.bics.setdefault(bank, bic) != bic:
                raise self.fail(f"{pointer}/bic", f"bank {bank!r} already has BIC "
                                f"{self.bics[bank]}")
        return bank

    def debtor(self, data: Mapping[str, object]) -> CompanyAccount:
        bank = self.bank(data, "/debtor")
        if bank is None:
            raise self.fail("/debtor/bank", "is required (or give /debtor/bic)")
        return CompanyAccount(
            id=AccountId("payments-json"), bank=bank_id(bank),
            number=self.account(data["account"], "/debtor/account"),
            currency=self.money_currency(data["currency"], "/debtor/currency"),
            name=self.text(data["name"], "/debtor/name", 140))

    def order(self, item: object, pointer: str, debtor: CompanyAccount,
              when: date) -> PaymentOrder:
        data = self.obj(item, pointer, _PAYMENT)
        payee_data = self.obj(data["payee"], f"{pointer}/payee", _PAYEE)
        bank = self.bank(payee_data, f"{pointer}/payee")
        payee = Payee(name=self.text(payee_data["name"], f"{pointer}/payee/name", 140),
                      account=self.account(payee_data["account"], f"{pointer}/payee/account"),
                      bank=bank_id(bank) if bank else None)
        cur = self.money_currency(data["currency"], f"{pointer}/currency")
        amount = self.amount(data["amount"], f"{pointer}/amount", cur)
        e2e = data.get("end_to_end_id")
        ident = (new_instruction_id() if e2e is None else
                 self.check(f"{pointer}/end_to_end_id", lambda: instruction_id(
                     self.string(e2e, f"{pointer}/end_to_end_id"), field="end_to_end_id")))
        remittance = self.optional_text(data.get("remittance"), f"{pointer}/remittance",
                                        REMITTANCE_MAX) or ""
        return self.check(pointer, lambda: new_payment_order(
            id=new_order_id(), instruction_id=ident, flow=FlowType.OTHER, debtor=debtor,
            payee=payee, amount=amount, execution_date=when, remittance=remittance,
            at=self.now, source=f"file:{self.origin}"))

    def amount(self, value: object, pointer: str, cur: Currency) -> Money:
        if not isinstance(value, str):
            raise self.fail(pointer, f"must be a decimal string like \"1200.50\", got "
                            f"{_kind(value)} {value!r} (JSON numbers are refused: floats "
                            "lose cents)")
        return self.check(pointer, lambda: parse_amount(value, cur))

    def unique(self, orders: tuple[PaymentOrder, ...]) -> None:
        seen: dict[str, int] = {}
        for n, order in enumerate(orders):
            first = seen.setdefault(order.instruction_id, n)
            if first != n:
                raise self.fail(f"/payments/{n}/end_to_end_id",
                                f"{order.instruction_id!r} is already used by /payments/{first}")

    def batch(self, debtor: CompanyAccount, when: date,
              orders: tuple[PaymentOrder, ...]) -> Batch:
        total = sum((o.amount for o in orders), Money.zero(debtor.currency))
        return Batch(id=new_batch_id(), key=BatchKey(debtor.id, debtor.bank, debtor.currency,
                                                     when),
                     order_ids=tuple(o.id for o in orders),
                     instruction_ids=tuple(o.instruction_id for o in orders), total=total,
                     state=BatchState.READY, version=1, created_at=self.now)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)

