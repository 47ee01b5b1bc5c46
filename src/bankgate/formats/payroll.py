"""Payroll files (代发工资): CSV or .xlsx, a control block, then one row per employee.

    付款账户,icbc-cny            debtor_account   our account id (the default paying account)
    工资月份,2026-11             period           YYYY-MM
    币种,CNY                     currency         optional, CNY by default
    总笔数,3                     count            control count
    总金额,25500.00              total            control total
    (blank line)
    工号,姓名,账号,开户行,联行号,金额,备注
    E001,张伟,6222…,icbc,,8500.00,

Column names may be Chinese or English (`employee_id, name, account, bank, branch_code,
amount, remittance`); `branch_code` and `remittance` may be left out. Every row is checked and
every problem is reported with its row and field; the file is refused whole if any is wrong,
and also when the rows do not add up to the control count and total.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bankgate.domain import (
    AccountNumber,
    BankId,
    Currency,
    Money,
    bank_id,
    clean_text,
    currency,
    parse_amount,
)
from bankgate.errors import DomainError, FormatError

# One reader of .xlsx and of text encodings for every format (zip-bomb limit, GBK, BOMs).
from bankgate.formats.csvprofiles.reader import decode_text, xlsx_rows

__all__ = ["MAX_PAYROLL_BYTES", "InvalidPayrollFile", "PayrollFile", "PayrollRow", "read_payroll"]

MAX_PAYROLL_BYTES: Final = 16 * 1024 * 1024
MAX_ROWS: Final = 50_000
MAX_PROBLEMS: Final = 50
_ZIP: Final = b"PK\x03\x04"
_META: Final = {"付款账户": "debtor_account", "工资月份": "period", "币种": "currency",
                "总笔数": "count", "总金额": "total"}
_COLUMNS: Final = {"工号": "employee_id", "姓名": "name", "账号": "account", "开户行": "bank",
                   "联行号": "branch_code", "金额": "amount", "备注": "remittance"}
_REQUIRED_META: Final = ("debtor_account", "period", "count", "total")
_REQUIRED_COLUMNS: Final = ("employee_id", "name", "account", "bank", "amount")
_EMPLOYEE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,39}")
_PERIOD: Final = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_BRANCH: Final = re.compile(r"[0-9]{12}")


class InvalidPayrollFile(FormatError):
    """A payroll file refused whole; `problems` lists (where, message) for each problem."""

    code = "invalid_payroll_file"

    def __init__(self, origin: str, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        shown = "; ".join(f"{where}: {message}" if where else message
                          for where, message in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(origin, "", f"{len(self.problems)} problem(s), nothing imported: "
                                     f"{shown}{more}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PayrollRow:
    """One employee's pay, as checked."""

    where: str  # "row 8"
    line_no: int
    employee_id: str
    name: str
    account: AccountNumber
    bank: BankId
    branch_code: str | None
    amount: Money
    remittance: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PayrollFile:
    """A whole payroll file: the control block and its rows (they add up)."""

    debtor_account: str
    period: str
    currency: Currency
    count: int
    total: Money
    rows: tuple[PayrollRow, ...]


def read_payroll(content: bytes, origin: str) -> PayrollFile:
    """The payroll in `content` (CSV in UTF-8/GBK, or .xlsx), or InvalidPayrollFile."""
    if len(content) > MAX_PAYROLL_BYTES:
        raise InvalidPayrollFile(origin, [("", f"the file has {len(content)} bytes, at most "
                                               f"{MAX_PAYROLL_BYTES} are read")])
    try:
        lines = xlsx_rows(content, origin) if content.startswith(_ZIP) else _csv(content,
                                                                                  origin)
    except InvalidPayrollFile:
        raise
    except FormatError as exc:  # the shared readers' own refusals: not a zip, bad bytes
        raise InvalidPayrollFile(origin, [(exc.where, exc.message)]) from exc
    problems: list[tuple[str, str]] = []
    meta, header_at = _meta(lines, problems)
    if header_at is None:
        raise InvalidPayrollFile(origin, problems or [("", "no row header (工号,姓名,账号,…) "
                                                           "after the control block")])
    cur = _meta_currency(meta, problems)
    rows = list(_rows(lines[header_at:], cur, meta.get("period", ""), problems))
    result = _controlled(meta, cur, rows, problems)
    if problems or result is None:
        raise InvalidPayrollFile(origin, problems[:MAX_PROBLEMS])
    return result


def _csv(content: bytes, origin: str) -> list[tuple[int, list[str]]]:
    text = decode_text(content, "auto", origin)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise InvalidPayrollFile(origin, [(f"row {reader.line_num}", f"not CSV: {exc}")]) from exc


def _meta(lines: list[tuple[int, list[str]]],
          problems: list[tuple[str, str]]) -> tuple[dict[str, str], int | None]:
    """The control block (key, value rows) and the index of the column header row."""
    meta: dict[str, str] = {}
    for index, (number, cells) in enumerate(lines):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if _COLUMNS.get(cells[0], cells[0]) == "employee_id":
            missing = [k for k in _REQUIRED_META if k not in meta]
            problems.extend(("control block", f"{_label(k)} is missing") for k in missing)
            return meta, index
        key = _META.get(cells[0], cells[0])
        if key not in _META.values():
            problems.append((f"row {number}", f"{cells[0]!r} is not a control field "
                                              f"({', '.join(_META)})"))
        elif key in meta:
            problems.append((f"row {number}", f"{cells[0]} is given twice"))
        else:
            meta[key] = cells[1] if len(cells) > 1 else ""
    return meta, None


def _label(key: str) -> str:
    chinese = {v: k for k, v in _META.items()}.get(key, key)
    return f"{chinese} ({key})"


def _meta_currency(meta: Mapping[str, str], problems: list[tuple[str, str]]) -> Currency:
    try:
        return currency(meta.get("currency") or "CNY")
    except DomainError as exc:
        problems.append(("control block", f"币种 (currency): {exc}"))
        return currency("CNY")


def _rows(lines: list[tuple[int, list[str]]], cur: Currency, period: str,
          problems: list[tuple[str, str]]) -> Iterator[PayrollRow]:
    number, header = lines[0]
    names = [_COLUMNS.get(h.strip(), h.strip()) for h in header]
    unknown = [h for h in names if h and h not in _COLUMNS.values()]
    missing = [c for c in _REQUIRED_COLUMNS if c not in names]
    if unknown or missing or len(set(names)) != len(names):
        problems.append((f"row {number}", f"the header must name each of "
                         f"{', '.join(_COLUMNS)} at most once; unknown {unknown}, "
                         f"missing {missing}"))
        return
    seen: dict[str, str] = {}
    for line_no, (number, cells) in enumerate(lines[1:MAX_ROWS + 1], start=1):
        if not any(c.strip() for c in cells):
            continue
        where = f"row {number}"
        if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
            problems.append((where, f"has {len(cells)} cells, the header {len(names)}"))
            continue
        row = _row(dict(zip(names, (c.strip() for c in cells), strict=False)), where,
                   line_no, cur, period, problems)
        if row is None:
            continue
        if row.employee_id in seen:
            problems.append((where, f"field 'employee_id': {row.employee_id} is paid twice "
                                    f"(also {seen[row.employee_id]})"))
            continue
        seen[row.employee_id] = where
        yield row


def _row(cells: Mapping[str, str], where: str, line_no: int, cur: Currency, period: str,
         problems: list[tuple[str, str]]) -> PayrollRow | None:
    before = len(problems)

    def field(name: str, check: object) -> object:
        try:
            return check(cells.get(name, ""))  # type: ignore[operator]
        except DomainError as exc:
            problems.append((where, f"field '{name}': {str(exc).removeprefix(name + ': ')}"))
            return None

    employee = field("employee_id", _employee)
    name = field("name", lambda v: clean_text(v, field="name", max_len=140))
    account = field("account", _account)
    bank = field("bank", lambda v: bank_id(v, field="bank"))
    branch = field("branch_code", _branch)
    amount = field("amount", lambda v: _positive(parse_amount(v, cur)))
    remittance = field("remittance", lambda v: clean_text(
        v or f"工资 {period}", field="remittance", max_len=140))
    if len(problems) > before:
        return None
    return PayrollRow(where=where, line_no=line_no, employee_id=employee,  # type: ignore[arg-type]
                      name=name, account=account, bank=bank,  # type: ignore[arg-type]
                      branch_code=branch, amount=amount,  # type: ignore[arg-type]
                      remittance=remittance)  # type: ignore[arg-type]


def _employee(value: str) -> str:
    if not _EMPLOYEE.fullmatch(value):
        raise DomainError(f"{value!r} is not an employee number (letters, digits, '-', '_')")
    return value


def _account(value: str) -> AccountNumber:
    if "e+" in value.lower():
        raise DomainError(f"{value!r} was stored as a number and lost digits; format the "
                          "column as text")
    return AccountNumber.parse(value)


def _branch(value: str) -> str | None:
    if not value:
        return None
    if not _BRANCH.fullmatch(value):
        raise DomainError(f"{value!r} is not a CNAPS bank code (12 digits)")
    return value


def _positive(amount: Money) -> Money:
    if not amount.is_positive:
        raise DomainError(f"must be greater than zero, got {amount.amount}")
    return amount


def _controlled(meta: Mapping[str, str], cur: Currency, rows: list[PayrollRow],
                problems: list[tuple[str, str]]) -> PayrollFile | None:
    """The file, when its control block is well formed and its rows add up to it."""
    period, count_text = meta.get("period", ""), meta.get("count", "")
    if period and not _PERIOD.fullmatch(period):
        problems.append(("control block", f"工资月份 (period): {period!r} is not YYYY-MM"))
    count = int(count_text) if count_text.isdigit() else None
    if count_text and count is None:
        problems.append(("control block", f"总笔数 (count): {count_text!r} is not a whole number"))
    try:
        total = parse_amount(meta.get("total", ""), cur, field="总金额 (total)")
    except DomainError as exc:
        if "total" in meta:
            problems.append(("control block", str(exc)))
        return None
    if problems or count is None:
        return None
    summed = sum((r.amount for r in rows), Money.zero(cur))
    if count != len(rows):
        problems.append(("control block", f"总笔数 (count) says {count} rows, the file has "
                                          f"{len(rows)}"))
    if summed != total:
        problems.append(("control block", f"总金额 (total) says {total}, the rows add up to "
                                          f"{summed}"))
    if not rows:
        problems.append(("", "the file has no employee rows"))
    if problems:
        return None
    return PayrollFile(debtor_account=meta["debtor_account"], period=period, currency=cur,
                       count=count, total=total, rows=tuple(rows))
