"""MT940 customer statements and MT942 interim reports (SWIFT MT, as banks export them).

Reads multi-statement files, SWIFT envelopes (`{1:…}{4:` … `-}`), CRLF/LF/CR line ends,
negative balances, comma decimals, the `:86:` dialects of `field86.py`, and non-ASCII names
(UTF-8, else Windows-1252). Every problem names the file and the line of the field.

The field and entry loops have a compiled twin (swift/_mt940_speedups.pyx, optional, see
swift/compiled.py) giving the same statements.
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from bankgate.formats.speedups import maker
from bankgate.formats.swift.compiled import C
from bankgate.formats.swift.field86 import read_field86

__all__ = ["detect_mt94x", "read_mt940"]

#: Entries and their parts are built from values in these orders (`speedups.maker`, ~5 µs
#: an entry cheaper than keywords; the compiled `entries` stores them in the slots itself).
_ENTRY_SLOTS: Final = (
    "key", "amount", "status", "booking_date", "value_date", "bank_reference", "end_to_end_id",
    "counterparty_name", "counterparty_account", "remittance", "source", "raw",
    "account_servicer_reference", "instruction_id", "is_reversal", "bank_transaction_code",
    "transactions")
_KEY_SLOTS: Final = ("kind", "value")
_SOURCE_SLOTS: Final = ("origin", "where")
_new_entry: Final = maker(StatementEntry, _ENTRY_SLOTS)
_new_source: Final = maker(Source, _SOURCE_SLOTS)
_new_key: Final = maker(EntryKey, _KEY_SLOTS)

MAX_BYTES: Final = 200 * 1024 * 1024
_BALANCE: Final = re.compile(r"^([CD])(\d{6})([A-Z]{3})([\d,.]+)$")
#: The fixed head of a :61: line's first row: value date, entry date (MMDD), D/C mark, funds
#: code, amount, type code. The customer reference is the rest up to the first `//`, the
#: bank's reference what follows it, and later rows are supplementary details.
_LINE61: Final = re.compile(
    r"(\d{6})(\d{4})?(R?[CD]|E[CD])[A-Z]?(\d[\d,]*)([A-Z][A-Z0-9 ]{3})")
_Head61 = tuple[str, str | None, str, str, str, int]


def _py_head61(row: str) -> _Head61 | None:
    """Value date, entry date or None, mark, amount, type code and where the head ends."""
    match = _LINE61.match(row)
    return (*match.groups(), match.end()) if match else None  # type: ignore[return-value]


#: The compiled twin gives the same tuples (test_mt940_compiled.py).
_head61: Final[Callable[[str], _Head61 | None]] = C.head61 if C is not None else _py_head61
#: What the compiled `entries` builds with (swift/_mt940_speedups.pyx).
_PARTS: Final = (StatementEntry, _ENTRY_SLOTS, EntryKey, _KEY_SLOTS, Source, _SOURCE_SLOTS,
                 read_field86, EntryStatus.BOOKED, Money, ("amount", "currency"))
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
    del data  # the reading holds only the fields (a generator keeps its locals)
    with _collector_paused():
        fields = _fields(text, origin)
    del text
    count = 0
    for block in _statements(fields, origin):
        count += 1
        with _collector_paused():  # not across the yield: the caller's code is not ours
            statement = _Reader(block, origin, count).build()
        yield statement
    if count == 0:
        raise FormatError(origin, "line 1", "no MT940/MT942 statement (:20: … :25: …) found")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while the Python reading builds records, then
    restore it.

    The records hold no cycles, and a statement of 100,000 entries makes ~500,000 tracked
    objects: the collector's passes over them cost a third of the reading (bench/formats.py,
    100,000 entries: 62k → 86k entries/CPU-s). Only enabled again if it was before. The
    compiled reading leaves its records untracked (nothing for the collector to pass over:
    2.85 against 2.88 µs an entry with and without the pause), so it changes nothing there.
    """
    if C is not None:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


_ENVELOPE: Final = re.compile(r"\{[1235]:(?:[^{}]|\{[^{}]*\})*\}")
# The line patterns start with the line end before them (the text gets one in front): a
# literal first character lets `re` skip ahead instead of trying `^` at every character.
_TERMINATOR: Final = re.compile(r"\n-(?:\}|[A-Z]{0,4})?[ \t]*$", re.MULTILINE)
_FIRST_TERMINATOR: Final = re.compile(r"-(?:\}|[A-Z]{0,4})?[ \t]*$", re.MULTILINE)
_TAG_LINE: Final = re.compile(r"\n:(\d{2}[A-Z]?):")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _unwrap(text: str) -> str:
    """Drop SWIFT envelopes ({1:}{2:}{3:}{4: … -}{5:}), end-of-message lines and control bytes.

    Line numbers are kept: every removed line becomes an empty line.
    """
    if "{" in text:
        text = _ENVELOPE.sub("", text).replace("{4:", "")
    if C.has_control(text) if C is not None else _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    if _FIRST_TERMINATOR.match(text):  # the pattern below wants a line end before the line
        end = text.find("\n")
        text = text[end:] if end >= 0 else ""
    return _TERMINATOR.sub("\n", text)


def _fields(text: str, origin: str) -> list[_Field]:
    if C is not None:  # the same fields, in one pass in C
        made: list[_Field] = C.fields(text, _Field)
        return made
    pieces = _TAG_LINE.split("\n" + text)  # [before the first tag, tag, value, tag, ...]
    fields: list[_Field] = []
    line = 1 + pieces[0].count("\n")  # the "\n" put in front stands for the tag's line end
    for i in range(1, len(pieces), 2):
        value = pieces[i + 1]
        fields.append(_Field(pieces[i], value.lstrip("\n").rstrip(), line))
        line += value.count("\n") + 1  # + the line end the split took before the next tag
    return fields


def _statements(fields: list[_Field], origin: str) -> Iterator[list[_Field]]:
    if C is not None:  # the same cut, in C
        yield from C.statements(fields)
        return
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
        self._signed: dict[tuple[str, bool], Money] = {}
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
        tagged = C.tagged(self.fields, _BALANCE_TAGS) if C is not None \
            else [f for f in self.fields if f.tag in _BALANCE_TAGS]
        balances = [self.balance(f) for f in tagged]
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
        if C is not None:  # the same loop in C, asking this reader for what it cannot do
            made: tuple[StatementEntry, ...] = C.entries(self, self.fields, cur, _PARTS)
            return made
        fields = self.fields
        lines = [(f, fields[i + 1].value if i + 1 < len(fields) and fields[i + 1].tag == "86"
                  else "") for i, f in enumerate(fields) if f.tag == "61"]
        refs = Counter([_bank_ref(f.value) for f, _ in lines])
        seen: Counter[tuple[object, ...]] = Counter()
        return tuple([self.entry(f, info, cur, refs, seen) for f, info in lines])

    def entry(self, field: _Field, info: str, cur: Currency, refs: Counter[str | None],
              seen: Counter[tuple[object, ...]]) -> StatementEntry:
        first = field.value.partition("\n")[0]  # later rows: details we do not keep
        head = _head61(first)
        if head is None:
            shown = (field.value.splitlines() or [""])[0]
            raise self.fail(field, f"{shown!r} is not a statement line "
                            "(value date, D/C mark, amount, type code, reference)")
        day, mmdd, mark, amount, code, end = head
        value_date = self.day(day, field)
        booking = self.booking_day(value_date, mmdd)
        signed = self.signed(amount, mark[-1] == "D", cur, field)
        ref, _, bank_text = first[end:].partition("//")
        bank_ref = _bank_ref_of(bank_text)
        details = read_field86(info)
        key = _new_key("bank_reference", bank_ref[:64]) if bank_ref and refs[bank_ref] == 1 \
            else self.composite(booking, signed, ref, code, info, seen)
        customer_ref = ref.strip()
        return _new_entry(
            key, signed, EntryStatus.BOOKED, booking, value_date, bank_ref,
            details.end_to_end_id or (customer_ref if customer_ref not in ("", "NONREF")
                                      else None),
            details.counterparty_name, details.counterparty_account, details.remittance,
            _new_source(self.origin, f"line {field.line}"), b"", None, None, mark[0] == "R",
            code + "/" + details.code if details.code else code, ())

    def composite(self, booking: date, signed: Money, ref: str, code: str, info: str,
                  seen: Counter[tuple[object, ...]]) -> EntryKey:
        """The key of a line without a reference of its own (or one it shares)."""
        identical = (booking, signed, ref, info)
        seen[identical] += 1
        return composite_entry_key(booking_date=booking, amount=signed,
                                   counterparty=f"{ref}|{code}", remittance=info,
                                   occurrence=seen[identical])

    def signed(self, text: str, debit: bool, cur: Currency, field: _Field) -> Money:
        """The amount of a :61: line, negative for a debit (amounts repeat: kept by text)."""
        found = self._signed.get((text, debit))
        if found is None:  # the unsigned Money first: it says what is wrong with the amount
            money = self._new_money(text, cur, field)
            found = self._signed[(text, debit)] = -money if debit else money
            if len(self._signed) >= 8192:
                self._signed.clear()
        return found

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
        try:
            exact = value.quantize(cur.quantum)
        except InvalidOperation as exc:  # more digits than Decimal holds
            raise self.fail(field, f"{text!r} is larger than any amount bankgate accepts") \
                from exc
        if raw.count(",") > 1 or value != exact:
            raise self.fail(field, f"{text!r} is not an amount in {cur.code}")
        try:
            return Money(exact, cur)
        except DomainError as exc:
            raise self.fail(field, str(exc)) from exc

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
    first = value.partition("\n")[0]
    return _bank_ref_of(first.partition("//")[2]) if "//" in first else None


def _bank_ref_of(text: str) -> str | None:
    ref = text.strip()
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
