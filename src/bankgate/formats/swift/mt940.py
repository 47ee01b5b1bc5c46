"""MT940 customer statements and MT942 interim reports (SWIFT MT, as banks export them).

Reads multi-statement files, SWIFT envelopes (`{1:…}{4:` … `-}`), CRLF/LF/CR line ends,
negative balances, comma decimals, the `:86:` dialects of `field86.py`, and non-ASCII names
(UTF-8, else Windows-1252). Every problem names the file and the line of the field.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Final, NamedTuple

from bankgate.domain import (
    Balance,
    BalanceType,
    Currency,
    EntryKey,
    EntryStatus,
    Money,
    Source,
    Statement,
    StatementEntry,
    composite_entry_key,
    currency,
)
from bankgate.errors import DomainError, FormatError
from bankgate.formats.swift.field86 import read_field86

__all__ = ["detect_mt94x", "read_mt940"]

MAX_BYTES: Final = 200 * 1024 * 1024
_TAG: Final = re.compile(r"^:(\d{2}[A-Z]?):", re.MULTILINE)
_BALANCE: Final = re.compile(r"^([CD])(\d{6})([A-Z]{3})([\d,.]+)$")
_LINE61: Final = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>R?[CD]|E[CD])(?P<funds>[A-Z])?"
    r"(?P<amount>\d[\d,]*)(?P<type>[A-Z][A-Z0-9 ]{3})(?P<ref>[^\n]*?)"
    r"(?://(?P<bankref>[^\n]*))?(?:\n(?P<extra>.*))?$", re.DOTALL)
_BALANCE_TAGS: Final = {"60F": BalanceType.OPENING_BOOKED, "60M": BalanceType.OPENING_BOOKED,
                        "62F": BalanceType.CLOSING_BOOKED, "62M": BalanceType.CLOSING_BOOKED,
                        "64": BalanceType.CLOSING_AVAILABLE,
                        "65": BalanceType.FORWARD_AVAILABLE}


def detect_mt94x(head: bytes) -> str | None:
    """'mt940' or 'mt942' when the file looks like one, else None."""
    text = head.decode("latin-1")
    if not re.search(r"^:20:", text, re.MULTILINE) or not re.search(r"^:25:", text,
                                                                      re.MULTILINE):
        return None
    return "mt942" if re.search(r"^:(34F|13D?):", text, re.MULTILINE) else "mt940"


class _Field(NamedTuple):
    """One `:tag:` field of the file (a tuple: a million of them are built per file)."""

    tag: str
    value: str
    line: int


def read_mt940(stream: IO[bytes], origin: str) -> Iterator[Statement]:
    """Every statement of an MT940 or MT942 file, in order; FormatError names the line."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FormatError(origin, "", f"larger than {MAX_BYTES} bytes; refused")
    text = _unwrap(_decode(data).replace("\r\n", "\n").replace("\r", "\n"))
    count = 0
    for block in _statements(_fields(text, origin), origin):
        count += 1
        yield _Reader(block, origin, count).build()
    if count == 0:
        raise FormatError(origin, "line 1", "no MT940/MT942 statement (:20: … :25: …) found")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


_ENVELOPE: Final = re.compile(r"\{[1235]:(?:[^{}]|\{[^{}]*\})*\}")
_TERMINATOR: Final = re.compile(r"^-(?:\}|[A-Z]{0,4})?[ \t]*$", re.MULTILINE)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _unwrap(text: str) -> str:
    """Drop SWIFT envelopes ({1:}{2:}{3:}{4: … -}{5:}), end-of-message lines and control bytes.

    Line numbers are kept: every removed line becomes an empty line.
    """
    text = _ENVELOPE.sub("", text).replace("{4:", "")
    return _TERMINATOR.sub("", _CONTROL.sub("", text))


def _fields(text: str, origin: str) -> list[_Field]:
    pieces = _TAG.split(text)  # [before the first tag, tag, value, tag, value, ...]
    fields: list[_Field] = []
    line = 1 + pieces[0].count("\n")
    for i in range(1, len(pieces), 2):
        value = pieces[i + 1]
        fields.append(_Field(pieces[i], value.strip("\n").rstrip(), line))
        line += value.count("\n")  # a tag holds no line end: counting values is linear
    return fields


def _statements(fields: list[_Field], origin: str) -> Iterator[list[_Field]]:
    block: list[_Field] = []
    for field in fields:
        if field.tag == "20" and block:
            yield block
            block = []
        block.append(field)
    if block:
        yield block


class _Reader:
    def __init__(self, fields: list[_Field], origin: str, number: int) -> None:
        self.fields, self.origin, self.number = fields, origin, number
        self._money: dict[tuple[str, str], Money] = {}
        self._days: dict[str, date] = {}
        self._bookings: dict[tuple[date, str | None], date] = {}

    def fail(self, field: _Field | None, message: str) -> FormatError:
        where = f"line {field.line} (:{field.tag}:)" if field else f"statement {self.number}"
        return FormatError(self.origin, where, message)

    def first(self, *tags: str) -> _Field | None:
        return next((f for f in self.fields if f.tag in tags), None)

    def build(self) -> Statement:
        account_field = self.first("25")
        if account_field is None:
            raise self.fail(self.first("20"), "the account (:25:) is missing")
        balances = [self.balance(f) for f in self.fields if f.tag in _BALANCE_TAGS]
        cur = self.currency(balances, account_field)
        account = re.sub(r"[A-Z]{3}$", "", account_field.value.strip()) or account_field.value
        opening = next((b for b in balances if b.type is BalanceType.OPENING_BOOKED), None)
        closing = next((b for b in balances if b.type is BalanceType.CLOSING_BOOKED), None)
        reference = self.first("20")
        number = self.first("28C", "28")
        statement_id = "/".join(f.value for f in (reference, number) if f)[:40]
        return Statement(id=statement_id or f"statement-{self.number}", account=account,
                         currency=cur, opening=opening, closing=closing,
                         entries=self.entries(cur),
                         source=Source(origin=self.origin,
                                       where=f"line {self.fields[0].line}"),
                         on=closing.as_of.date() if closing else None,
                         iban=account if re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}", account)
                         else None, balances=tuple(balances))

    def currency(self, balances: list[Balance], account: _Field) -> Currency:
        if balances:
            return balances[0].amount.currency
        floor = self.first("34F")
        code = floor.value[:3] if floor else account.value.strip()[-3:]
        try:
            return currency(code)
        except DomainError as exc:
            raise self.fail(account, "no balance and no currency to read the amounts in") \
                from exc

    def balance(self, field: _Field) -> Balance:
        # only the first line: bank header lines may follow the last balance of a statement
        match = _BALANCE.match(field.value.split("\n", 1)[0].strip())
        if match is None:
            raise self.fail(field, f"{field.value!r} is not a balance (C/D, YYMMDD, currency, "
                            "amount)")
        mark, day, code, amount = match.groups()
        cur = self.ccy(code, field)
        money = self.money(amount, cur, field)
        return Balance(account="", type=_BALANCE_TAGS[field.tag], code=field.tag,
                       amount=-money if mark == "D" else money,
                       as_of=datetime.combine(self.day(day, field), datetime.min.time(), UTC),
                       source=Source(origin=self.origin, where=f"line {field.line}"))

    def entries(self, cur: Currency) -> tuple[StatementEntry, ...]:
        # the reference is cut from the text, not kept as a match: a held re.Match per line
        # cost ~30 MB at 100,000 lines
        lines = [(f, self.info_after(i), _bank_ref(f.value))
                 for i, f in enumerate(self.fields) if f.tag == "61"]
        refs = Counter(ref for _, _, ref in lines)
        seen: Counter[tuple[object, ...]] = Counter()
        return tuple(self.entry(f, info, ref, cur, refs, seen) for f, info, ref in lines)

    def info_after(self, index: int) -> str:
        following = self.fields[index + 1] if index + 1 < len(self.fields) else None
        return following.value if following is not None and following.tag == "86" else ""

    def entry(self, field: _Field, info: str, bank_ref: str | None, cur: Currency,
              refs: Counter[str | None], seen: Counter[tuple[object, ...]]) -> StatementEntry:
        match = _LINE61.match(field.value)
        if match is None:
            first = (field.value.splitlines() or [""])[0]
            raise self.fail(field, f"{first!r} is not a statement line "
                            "(value date, D/C mark, amount, type code, reference)")
        value_date = self.day(match["value"], field)
        booking = self.booking_day(value_date, match["entry"])
        amount = self.money(match["amount"], cur, field)
        signed = -amount if match["mark"].endswith("D") else amount
        details = read_field86(info)
        key: EntryKey
        if bank_ref and refs[bank_ref] == 1:
            key = EntryKey("bank_reference", bank_ref[:64])
        else:
            fields = (booking, signed, match["ref"], info)
            seen[fields] += 1
            key = composite_entry_key(booking_date=booking, amount=signed,
                                      counterparty=f"{match['ref']}|{match['type']}",
                                      remittance=info, occurrence=seen[fields])
        customer_ref = (match["ref"] or "").strip() or None
        return StatementEntry(
            key=key, amount=signed, status=EntryStatus.BOOKED, booking_date=booking,
            value_date=value_date, bank_reference=bank_ref,
            end_to_end_id=details.end_to_end_id or (customer_ref if customer_ref not in
                                                    (None, "NONREF") else None),
            counterparty_name=details.counterparty_name,
            counterparty_account=details.counterparty_account,
            remittance=details.remittance, source=Source(origin=self.origin,
                                                         where=f"line {field.line}"),
            is_reversal=match["mark"].startswith("R"),
            bank_transaction_code=match["type"] + (f"/{details.code}" if details.code else ""))

    def ccy(self, code: str, field: _Field) -> Currency:
        try:
            return currency(code)
        except DomainError as exc:
            raise self.fail(field, str(exc)) from exc

    def money(self, text: str, cur: Currency, field: _Field) -> Money:
        found = self._money.get((text, cur.code))
        if found is None:
            found = self._new_money(text, cur, field)
            if len(self._money) >= 8192:  # amounts repeat; keep the cache small
                self._money.clear()
            self._money[(text, cur.code)] = found
        return found

    def _new_money(self, text: str, cur: Currency, field: _Field) -> Money:
        raw = text.strip().rstrip(",")
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation as exc:
            raise self.fail(field, f"{text!r} is not an amount") from exc
        if raw.count(",") > 1 or value != value.quantize(cur.quantum):
            raise self.fail(field, f"{text!r} is not an amount in {cur.code}")
        return Money(value.quantize(cur.quantum), cur)

    def booking_day(self, value_date: date, mmdd: str | None) -> date:
        """The entry date (MMDD, the year from the value date), else the value date."""
        key = (value_date, mmdd)
        found = self._bookings.get(key)
        if found is None:
            found = self._bookings[key] = _entry_date(value_date, mmdd) or value_date
        return found

    def day(self, text: str, field: _Field) -> date:
        found = self._days.get(text)
        if found is None:
            found = self._days[text] = self._new_day(text, field)
        return found

    def _new_day(self, text: str, field: _Field) -> date:
        year = int(text[:2])
        try:
            return date(1900 + year if year > 79 else 2000 + year, int(text[2:4]), int(text[4:6]))
        except ValueError as exc:
            raise self.fail(field, f"{text!r} is not a date (YYMMDD)") from exc


def _bank_ref(value: str) -> str | None:
    """The bank's reference: what follows the first `//` on the line's first row."""
    first = value.split("\n", 1)[0]
    if "//" not in first:
        return None
    ref = first.split("//", 1)[1].strip()
    return None if not ref or ref.upper() == "NONREF" else ref


def _entry_date(value_date: date, mmdd: str | None) -> date | None:
    if not mmdd:
        return None
    month, day = int(mmdd[:2]), int(mmdd[2:])
    year = value_date.year
    if month == 12 and value_date.month == 1:
        year -= 1
    elif month == 1 and value_date.month == 12:
        year += 1
    try:
        return date(year, month, day)
    except ValueError:
        return None
