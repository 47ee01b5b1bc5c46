"""Bank CSV and Excel (.xlsx) statement exports read through a `Profile`.

The file is decoded (BOM, then UTF-8, then GB18030 — a superset of GBK — unless the profile
names its encoding), the header line found, every data row turned into a `StatementEntry`
with a signed amount (credit +, debit −), and, when the file gives the balance after each
entry, the opening and closing balances derived so that `check_statement` can prove (or
report) opening + entries = closing. Cells are text: a cell such as `=cmd|'/C calc'!A0` is
kept as that text, never evaluated. Any row that cannot be read is a `FormatError` naming the
file, `line N` and the column.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import IO, Final

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
    parse_amount,
)
from bankgate.errors import DomainError, FormatError
from bankgate.formats.csvprofiles.profile import Profile, builtin_profiles

__all__ = ["MAX_FILE_BYTES", "MAX_XLSX_UNPACKED_BYTES", "decode_text", "detect_profile",
           "read_csv_statement", "xlsx_rows"]

#: Larger files are refused: a statement export is kilobytes to a few megabytes.
MAX_FILE_BYTES: Final = 32 * 1024 * 1024
#: An .xlsx is a zip; its members together may not unpack to more (zip bombs).
MAX_XLSX_UNPACKED_BYTES: Final = 128 * 1024 * 1024
_SNIFF_LINES: Final = 60
_ZIP: Final = b"PK\x03\x04"
_OLE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (BIFF) and other OLE2 files
_ISO_DATES: Final = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")  # how Excel date cells are rendered


def detect_profile(head: bytes, profiles: Mapping[str, Profile] | None = None) -> Profile | None:
    """The profile whose every `sniff` marker is in the file's first lines; the most specific
    (longest markers) when several match. `profiles` defaults to `builtin_profiles()`.

    An .xlsx cannot be sniffed from its head (it is compressed): name its profile.
    """
    text = "\n".join(_decode_head(head).splitlines()[:_SNIFF_LINES])
    matching = [p for p in (builtin_profiles() if profiles is None else profiles).values()
                if p.sniff and all(marker in text for marker in p.sniff)]
    return max(matching, key=lambda p: sum(map(len, p.sniff)), default=None)


def read_csv_statement(stream: IO[bytes], profile: Profile, origin: str) -> Statement:
    """The statement in a bank's CSV or .xlsx export, read with `profile`.

    Raises:
        FormatError: naming `origin`, `line N` and the column of what cannot be read.
    """
    raw = stream.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise FormatError(origin, "", f"larger than {MAX_FILE_BYTES} bytes; not a statement")
    if raw.startswith(_OLE):
        raise FormatError(origin, "", "an .xls (Excel 97-2003) file; save it as .xlsx or CSV")
    rows = xlsx_rows(raw, origin) if raw.startswith(_ZIP) else _csv_rows(raw, profile, origin)
    return _Table(rows, profile, origin).statement(raw)


def _decode_head(head: bytes) -> str:
    """The first bytes as text; a multi-byte character cut at the end is dropped."""
    try:
        return decode_text(head, "auto", "")
    except FormatError:
        return head.decode("gb18030", errors="replace")
    except UnicodeDecodeError:  # pragma: no cover - decode_text translates
        return ""


def decode_text(raw: bytes, encoding: str, origin: str) -> str:
    """`raw` as text in `encoding`, or with "auto": by BOM, else UTF-8, else GB18030 (GBK).

    Raises:
        FormatError: not text in the given encoding (naming the byte and `origin`).
    """
    if encoding != "auto":
        try:
            return raw.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise FormatError(origin, f"byte {exc.start}", f"not {encoding} text "
                              "(the profile's encoding)") from exc
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return decode_text(raw, name, origin)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and exc.reason == "unexpected end of data":
            return raw[:exc.start].decode("utf-8")  # a head cut inside a character
    # Chinese banks' exports that are not UTF-8 are GBK; GB18030 reads GBK and more.
    return decode_text(raw, "gb18030", origin)


def _csv_rows(raw: bytes, profile: Profile, origin: str) -> list[tuple[int, list[str]]]:
    text = decode_text(raw, profile.encoding, origin)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise FormatError(origin, f"line {reader.line_num}", f"not CSV: {exc}") from exc


def xlsx_rows(raw: bytes, origin: str) -> list[tuple[int, list[str]]]:
    """The first sheet's cells as text (openpyxl read-only; formulas stay their text).

    openpyxl (with numpy and PIL, ~0.15 s) is imported here, not with the module: most files
    are not .xlsx, and `bankgate parse` of any file would pay for it.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED_BYTES:
            raise FormatError(origin, "", f"the .xlsx unpacks to {unpacked} bytes, more than "
                              f"{MAX_XLSX_UNPACKED_BYTES}; refused")
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FormatError(origin, "", f"not a readable .xlsx: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        return [(n, [_cell_text(v) for v in row])
                for n, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # The number Excel stored is binary; repr is its shortest exact text ("15.9"), which
        # parse_amount then checks like any CSV cell. No float arithmetic happens.
        return repr(value)
    if isinstance(value, datetime):
        return value.strftime(_ISO_DATES[0] if value.time() != time() else _ISO_DATES[1])
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    """One data row, read but not yet keyed."""

    line: int
    booked: date
    at: time | None
    value_date: date | None
    amount: Money
    balance: Money | None
    counterparty_name: str | None
    counterparty_account: str | None
    remittance: str | None
    serial: str | None
    raw: bytes


class _Table:
    """The rows of one export: header found, columns located, rows read in file order."""

    def __init__(self, rows: list[tuple[int, list[str]]], profile: Profile, origin: str) -> None:
        self.profile = profile
        self.origin = origin
        at = self._header_index(rows)
        self.header_line = rows[at][0]
        self.preamble = "\n".join(",".join(cells) for _, cells in rows[:at])
        names = [cell.strip() for cell in rows[at][1]]
        self.index: dict[str, int] = {}
        for column in profile.columns:
            if column not in names:
                raise FormatError(origin, f"line {self.header_line}", f"column {column!r} is "
                                  f"not in the header (profile {profile.name})")
            self.index[column] = names.index(column)
        self.body = rows[at + 1:]

    def _header_index(self, rows: list[tuple[int, list[str]]]) -> int:
        wanted = self.profile.header_contains
        for i, (line, cells) in enumerate(rows):
            if self.profile.header_line is not None:
                if line == self.profile.header_line:
                    return i
            elif all(name in {c.strip() for c in cells} for name in wanted):
                return i
        place = (f"line {self.profile.header_line}" if self.profile.header_line
                 else f"a line with {', '.join(wanted)}")
        raise FormatError(self.origin, "", f"no header at {place} (profile "
                          f"{self.profile.name})")

    def statement(self, raw: bytes) -> Statement:
        rows = [self._row(line, cells) for line, cells in self.body if self._is_data(cells)]
        if not rows:
            raise FormatError(self.origin, "", "no entries after the header")
        cur = rows[0].amount.currency if self.profile.currency_column else (
            currency(self.profile.currency))
        entries = tuple(_entries(rows, self.origin))
        opening, closing = _balances(rows, cur, self._account(), self.origin)
        return Statement(
            id=f"{self.profile.name}:{hashlib.sha256(raw).hexdigest()[:16]}",
            account=self._account(), currency=cur, opening=opening, closing=closing,
            entries=entries, source=Source(origin=self.origin), raw=raw,
            on=max(r.booked for r in rows),
            balances=tuple(b for b in (opening, closing) if b is not None),
        )

    def _account(self) -> str:
        pattern = self.profile.account_pattern
        found = re.search(pattern, self.preamble) if pattern else None
        return found.group(1).strip() if found else ""

    def _is_data(self, cells: Sequence[str]) -> bool:
        if not any(c.strip() for c in cells):
            return False
        first = cells[0].strip()
        return not any(first.startswith(p) for p in self.profile.skip_prefixes)

    def _row(self, line: int, cells: list[str]) -> _Row:
        p = self.profile
        cell = _Cells(cells, self.index, p, self.origin, line)
        code = p.currency_code(cell.text(p.currency_column))
        try:
            cur = currency(code)
        except DomainError as exc:
            raise cell.error(p.currency_column or "currency", f"{code!r} is not a currency "
                             "(add it to currency_names)") from exc
        return _Row(
            line=line, booked=cell.day(p.date), at=cell.clock(p.time),
            value_date=cell.day(p.value_date) if p.value_date else None,
            amount=cell.amount(cur), balance=cell.money(p.balance, cur) if p.balance else None,
            counterparty_name=cell.text(p.counterparty_name) or None,
            counterparty_account=cell.text(p.counterparty_account) or None,
            remittance=" / ".join(filter(None, map(cell.text, p.remittance))) or None,
            serial=cell.text(p.serial) or None, raw=",".join(cells).encode(),
        )


class _Cells:
    """One row's cells by column name, with errors that name the line and the column."""

    def __init__(self, cells: list[str], index: dict[str, int], profile: Profile,
                 origin: str, line: int) -> None:
        self.cells = cells
        self.index = index
        self.profile = profile
        self.origin = origin
        self.line = line

    def error(self, column: str, message: str) -> FormatError:
        return FormatError(self.origin, f"line {self.line}", f"column {column!r}: {message}")

    def text(self, column: str | None) -> str:
        if column is None:
            return ""
        at = self.index[column]
        value = self.cells[at].strip() if at < len(self.cells) else ""
        return "" if value in self.profile.blank_values else value

    def day(self, column: str) -> date:
        value = self.text(column)
        for fmt in self.profile.date_formats + _ISO_DATES:
            try:
                return datetime.strptime(value, fmt).date()
            except ValueError:
                continue
        raise self.error(column, f"{value!r} is not a date like "
                         f"{' or '.join(self.profile.date_formats)}")

    def clock(self, column: str | None) -> time | None:
        value = self.text(column)
        if column is None or not value:
            return None
        for fmt in self.profile.time_formats:
            try:
                return datetime.strptime(value, fmt).time()
            except ValueError:
                continue
        raise self.error(column, f"{value!r} is not a time like "
                         f"{' or '.join(self.profile.time_formats)}")

    def money(self, column: str, cur: Currency) -> Money:
        value = self.text(column)
        cleaned = value.replace(self.profile.thousands, "") if self.profile.thousands else value
        cleaned = cleaned.strip(self.profile.strip_chars + " ").removeprefix("+")
        try:
            return parse_amount(cleaned, cur)
        except DomainError as exc:
            raise self.error(column, f"{value!r} is not an amount ({exc})") from exc

    def amount(self, cur: Currency) -> Money:
        """The signed amount (credit +, debit −) from whichever columns the profile uses."""
        p = self.profile
        if p.debit and p.credit:
            debit, credit = self.text(p.debit), self.text(p.credit)
            if bool(debit) == bool(credit):
                raise self.error(p.debit, f"exactly one of {p.debit!r} and {p.credit!r} must "
                                 f"be filled, got {debit!r} and {credit!r}")
            signed = -self.money(p.debit, cur) if debit else self.money(p.credit, cur)
        else:
            assert p.amount is not None  # the profile was checked on load
            signed = self.money(p.amount, cur)
            if p.direction:
                signed = self._directed(p.direction, signed)
        return -signed if p.invert_sign else signed

    def _directed(self, column: str, amount: Money) -> Money:
        value = self.text(column)
        if amount.amount < 0:
            raise self.error(self.profile.amount or column, f"{amount.amount} is negative "
                             "although a direction column gives the sign")
        if any(value.startswith(v) for v in self.profile.debit_values):
            return -amount
        if any(value.startswith(v) for v in self.profile.credit_values):
            return amount
        raise self.error(column, f"{value!r} is neither debit "
                         f"({', '.join(self.profile.debit_values)}) nor credit "
                         f"({', '.join(self.profile.credit_values)})")


def _entries(rows: list[_Row], origin: str) -> list[StatementEntry]:
    """Entries keyed by 流水号 when it identifies them, else by a composite key.

    A serial that is blank or repeats within the file (ABC writes 0000000000 on every interest
    line, sample abc_debit.csv) is no identity: those rows get composite keys, whose
    occurrence number keeps genuinely identical rows apart.
    """
    serials = Counter(r.serial for r in rows if r.serial)
    seen: Counter[tuple[object, ...]] = Counter()
    entries = []
    for r in rows:
        if r.serial and serials[r.serial] == 1:
            key = EntryKey("bank_reference", r.serial)
        else:
            fields = (r.booked, r.amount, r.counterparty_name or "", r.remittance or "")
            seen[fields] += 1
            key = composite_entry_key(booking_date=r.booked, amount=r.amount,
                                      counterparty=fields[2], remittance=fields[3],
                                      occurrence=seen[fields])
        entries.append(StatementEntry(
            key=key, amount=r.amount, status=EntryStatus.BOOKED, booking_date=r.booked,
            value_date=r.value_date, bank_reference=r.serial,
            counterparty_name=r.counterparty_name,
            counterparty_account=r.counterparty_account, remittance=r.remittance,
            source=Source(origin=origin, where=f"line {r.line}"), raw=r.raw))
    return entries


def _balances(rows: list[_Row], cur: Currency, account: str,
              origin: str) -> tuple[Balance | None, Balance | None]:
    """Opening and closing balances from the balance after each entry, when every entry has
    one: in time order (files newest-first are turned round), opening = first balance − first
    amount, closing = last balance."""
    if any(r.balance is None or r.amount.currency != cur for r in rows):
        return None, None
    ordered = rows[::-1] if rows[0].booked > rows[-1].booked else rows
    ordered = sorted(ordered, key=lambda r: (r.booked, r.at or time()))
    first, last = ordered[0], ordered[-1]
    assert first.balance is not None and last.balance is not None

    def balance(kind: BalanceType, amount: Money, row: _Row) -> Balance:
        return Balance(account=account, type=kind, amount=amount,
                       as_of=datetime.combine(row.booked, row.at or time(), UTC),
                       source=Source(origin=origin, where=f"line {row.line}"))

    return (balance(BalanceType.OPENING_BOOKED, first.balance - first.amount, first),
            balance(BalanceType.CLOSING_BOOKED, last.balance, last))
