"""The MT940 reader and its `:86:` reading as they were at 5c61e5e, before the fast path.

Kept unchanged (only joined into one module) as the oracle that
`test_mt940_same_as_before.py` compares today's reader against: a frozen copy, so the
duplicates report lists it beside the reader on purpose. It holds no tests.
"""
# ruff: noqa

from __future__ import annotations



import re
from dataclasses import dataclass
from typing import Final


_SUBFIELD: Final = re.compile(r"\?(\d{2})")
_SLASH_KEY: Final = re.compile(r"/(EREF|MREF|CRED|REMI|NAME|IBAN|BIC|CNTP|ORDP|BENM|KREF|"
                               r"ULTD|ULTC|PURP|RTRN|ADDR|CSID|TRTP|MARF|SVWZ|ISDT)/")
_SEPA: Final = re.compile(r"(EREF|KREF|MREF|CRED|SVWZ|ABWA|ABWE|IBAN|BIC)\+")
_GVC: Final = re.compile(r"\d{3}\?")
_TWO_DIGITS: Final = re.compile(r"\d{2}")
_REMITTANCE: Final = tuple(f"{n:02d}" for n in (*range(20, 30), *range(60, 64)))


@dataclass(frozen=True, slots=True)
class Details:
    """What an `:86:` field says about one entry."""

    remittance: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    code: str | None = None  # the GVC / transaction code, when the dialect has one


def read_field86(text: str) -> Details:
    """Details of an entry from its `:86:` text, whatever the dialect."""
    flat = text.replace("\n", "")
    if _GVC.match(flat) and _SUBFIELD.search(flat):
        return _structured(flat)
    if _SLASH_KEY.search(flat):
        return _slashed(flat)
    cleaned = " ".join(text.split())
    return Details(remittance=cleaned or None)


def _structured(flat: str) -> Details:
    code, _, rest = flat.partition("?")
    pairs = _subfields(rest)
    first = dict(reversed(pairs))  # each subfield's first value (built in C)
    remittance = "".join([first[n] for n in _REMITTANCE if n in first])
    sepa = _sepa_parts(remittance) if "+" in remittance else {}
    name = account = None
    if "32" in first or "33" in first:  # ?32 and ?33 continue each other, in that order
        name = ("".join([v for n, v in pairs if n == "32"])
                + "".join([v for n, v in pairs if n == "33"])).strip() or None
    if "31" in first:
        account = "".join([v for n, v in pairs if n == "31"]).strip() or None
    text = sepa.get("SVWZ", remittance).strip()
    return Details(remittance=text or None, counterparty_name=name,
                   counterparty_account=account or sepa.get("IBAN"),
                   end_to_end_id=_ref(sepa.get("EREF")), code=code[:3] or None)


def _subfields(rest: str) -> list[tuple[str, str]]:
    """`?NN` subfields as (NN, text): each piece between `?`s, its first two digits the code.

    `str.split` instead of a regex `findall` (~20 % of the field's time); a piece that does
    not start with two digits gives the first two digits inside it, as the regex did.
    """
    pairs: list[tuple[str, str]] = []
    for piece in rest.split("?"):
        if len(piece) >= 2 and piece[:2].isdecimal():  # isdecimal is what regex \d matches
            pairs.append((piece[:2], piece[2:]))
        elif piece:
            found = _TWO_DIGITS.search(piece)
            if found:
                pairs.append((found.group(), piece[found.end():]))
    return pairs


def _sepa_parts(text: str) -> dict[str, str]:
    pieces = _SEPA.split(text)  # [before, key, value, key, value, ...]; a later key wins
    return dict(zip(pieces[1::2], map(str.strip, pieces[2::2]), strict=True))


def _slashed(flat: str) -> Details:
    marks = list(_SLASH_KEY.finditer(flat))
    parts: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(flat)
        parts.setdefault(mark.group(1), flat[mark.end():end].strip("/ ").strip())
    account = parts.get("IBAN") or (parts.get("CNTP", "").split("/")[0] or None)
    return Details(remittance=parts.get("REMI") or parts.get("SVWZ") or None,
                   counterparty_name=parts.get("NAME") or None,
                   counterparty_account=account, end_to_end_id=_ref(parts.get("EREF")))


def _ref(ref: str | None) -> str | None:
    return None if not ref or ref.upper() in ("NOTPROVIDED", "NONREF") else ref




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
