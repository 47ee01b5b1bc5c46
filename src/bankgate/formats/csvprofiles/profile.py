"""A CSV/Excel statement profile: one bank's export layout, described as data (a TOML file).

A profile is a data file, not a class (beangulp's lesson, STYLE 2.2): adding a bank's layout
means writing a TOML file, never code. The format is documented in docs/csv-profiles.md.
Profiles are validated on load; an error names the file and the key.
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from bankgate.domain import CURRENCIES
from bankgate.errors import ConfigError

__all__ = ["PROFILES_ENV", "Profile", "builtin_profiles", "load_profile", "load_profiles"]

#: Directories (separated by os.pathsep) of user profiles, read by `builtin_profiles()`.
PROFILES_ENV: Final = "BANKGATE_CSV_PROFILES"

_TOP_KEYS: Final = frozenset({
    "name", "description", "encoding", "sniff", "header_line", "header_contains", "columns",
    "date_formats", "time_formats", "currency", "currency_names", "debit_values",
    "credit_values", "invert_sign", "thousands", "strip_chars", "blank_values",
    "skip_prefixes", "account_pattern",
})
_COLUMN_KEYS: Final = frozenset({
    "date", "time", "value_date", "amount", "debit", "credit", "direction", "balance",
    "counterparty_name", "counterparty_account", "remittance", "serial", "currency",
})
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """One export layout: where the header is, which column means what, how values are written.

    Amounts come from exactly one of: `amount` (signed, credit +), `debit` + `credit` columns
    (借方/贷方, 支出/收入), or `amount` + `direction` (a 借/贷 column whose cell starts with one
    of `debit_values` / `credit_values`). `invert_sign` is for card statements where a
    positive amount is money spent.
    """

    name: str
    description: str = ""
    encoding: str = "auto"  # "auto": BOM, then UTF-8, then GB18030
    sniff: tuple[str, ...] = ()  # all must appear in the file's first lines
    header_line: int | None = None  # 1-based line of the column names
    header_contains: tuple[str, ...] = ()  # or: the first line holding all these names
    date: str
    time: str | None = None
    value_date: str | None = None
    amount: str | None = None
    debit: str | None = None
    credit: str | None = None
    direction: str | None = None
    debit_values: tuple[str, ...] = ()
    credit_values: tuple[str, ...] = ()
    invert_sign: bool = False
    balance: str | None = None  # balance after the entry
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    remittance: tuple[str, ...] = ()  # joined with " / " when several are filled
    serial: str | None = None  # the bank's 流水号: the entry's identity when present
    currency_column: str | None = None
    currency: str = "CNY"  # fixed, or the default when the currency column is blank
    currency_names: tuple[tuple[str, str], ...] = ()  # ("人民币", "CNY")
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    time_formats: tuple[str, ...] = ("%H:%M:%S",)
    thousands: str = ","
    strip_chars: str = ""  # stripped from amounts besides whitespace ("¥")
    blank_values: tuple[str, ...] = ("-", "--", "/")
    skip_prefixes: tuple[str, ...] = ()  # rows whose first cell starts so: 合计, 人民币合计
    account_pattern: str | None = None  # regex whose group 1 finds the account before the header

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column name the profile reads."""
        named = (self.date, self.time, self.value_date, self.amount, self.debit, self.credit,
                 self.direction, self.balance, self.counterparty_name,
                 self.counterparty_account, self.serial, self.currency_column)
        return tuple(c for c in named if c) + self.remittance

    def currency_code(self, cell: str) -> str:
        """The ISO code a currency cell means ("人民币" → "CNY"); the default when blank."""
        return dict(self.currency_names).get(cell, cell) if cell else self.currency


def load_profile(path: Path | str) -> Profile:
    """The profile in a TOML file.

    Raises:
        ConfigError: naming the file and the key that is missing, unknown or wrong.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the profile: {exc}") from exc
    return _Loader(str(path), data).profile()


def load_profiles(dirs: Iterable[Path | str]) -> dict[str, Profile]:
    """Every `*.toml` profile in these directories by name; a later directory wins a name."""
    found: dict[str, Profile] = {}
    for folder in dirs:
        for path in sorted(Path(folder).glob("*.toml")):
            profile = load_profile(path)
            found[profile.name] = profile
    return found


def builtin_profiles(env: Mapping[str, str] | None = None) -> dict[str, Profile]:
    """The profiles shipped with bankgate, then the user's from `$BANKGATE_CSV_PROFILES`.

    A user profile with a builtin's name replaces it.
    """
    found: dict[str, Profile] = {}
    for entry in sorted(resources.files(__package__).joinpath("builtin").iterdir(),
                        key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            profile = _Loader(f"builtin/{entry.name}",
                              tomllib.loads(entry.read_text(encoding="utf-8"))).profile()
            found[profile.name] = profile
    extra = (os.environ if env is None else env).get(PROFILES_ENV, "")
    found.update(load_profiles(d for d in extra.split(os.pathsep) if d))
    return found


class _Loader:
    """Checks a profile's TOML table key by key; errors name the file and the key."""

    def __init__(self, origin: str, data: dict[str, object]) -> None:
        self.origin = origin
        self.data = data

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.origin}: key {key!r}: {message}")

    def profile(self) -> Profile:
        self._known(self.data, _TOP_KEYS, "")
        columns = self.data.get("columns")
        if not isinstance(columns, dict):
            raise self.fail("columns", "a [columns] table is required")
        self._known(columns, _COLUMN_KEYS, "columns.")
        col = _Columns(self, columns)
        name = self.text("name", required=True)
        if not _NAME.fullmatch(name):
            raise self.fail("name", f"{name!r} is not lower-case letters, digits, _ or -")
        profile = Profile(
            name=name, description=self.text("description"),
            encoding=self.encoding(), sniff=self.texts("sniff"),
            header_line=self.header_line(), header_contains=self.texts("header_contains"),
            date=col.one("date"), time=col.opt("time"),
            value_date=col.opt("value_date"), amount=col.opt("amount"),
            debit=col.opt("debit"), credit=col.opt("credit"), direction=col.opt("direction"),
            debit_values=self.texts("debit_values"), credit_values=self.texts("credit_values"),
            invert_sign=self.flag("invert_sign"), balance=col.opt("balance"),
            counterparty_name=col.opt("counterparty_name"),
            counterparty_account=col.opt("counterparty_account"),
            remittance=col.many("remittance"), serial=col.opt("serial"),
            currency_column=col.opt("currency"), currency=self.currency(),
            currency_names=self.currency_names(),
            date_formats=self.texts("date_formats") or ("%Y-%m-%d",),
            time_formats=self.texts("time_formats") or ("%H:%M:%S",),
            thousands=self.text("thousands", default=","), strip_chars=self.text("strip_chars"),
            blank_values=self.texts("blank_values", default=("-", "--", "/")),
            skip_prefixes=self.texts("skip_prefixes"), account_pattern=self.pattern(),
        )
        self._check_amounts(profile)
        return profile

    def _known(self, table: dict[str, object], keys: frozenset[str], prefix: str) -> None:
        for key in table:
            if key not in keys:
                raise self.fail(prefix + key, f"unknown key (known: {', '.join(sorted(keys))})")

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return default
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {value!r}")
        return value

    def texts(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"must be a list of non-empty strings, got {value!r}")
        return tuple(value)

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def encoding(self) -> str:
        name = self.text("encoding", default="auto")
        if name != "auto":
            try:
                codecs.lookup(name)
            except LookupError as exc:
                raise self.fail("encoding", f"{name!r} is not a known encoding") from exc
        return name

    def header_line(self) -> int | None:
        value = self.data.get("header_line")
        if value is None:
            if not self.data.get("header_contains"):
                raise self.fail("header_line", "give header_line or header_contains")
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail("header_line", f"must be a line number from 1, got {value!r}")
        return value

    def currency(self) -> str:
        code = self.text("currency", default="CNY")
        if code not in CURRENCIES:
            raise self.fail("currency", f"{code!r} is not a supported ISO 4217 code")
        return code

    def currency_names(self) -> tuple[tuple[str, str], ...]:
        table = self.data.get("currency_names", {})
        if not isinstance(table, dict):
            raise self.fail("currency_names", "must be a table of name = \"ISO code\"")
        for name, code in table.items():
            if code not in CURRENCIES:
                raise self.fail(f"currency_names.{name}", f"{code!r} is not an ISO 4217 code")
        return tuple(sorted(table.items()))

    def pattern(self) -> str | None:
        text = self.text("account_pattern") or None
        if text is not None:
            try:
                if re.compile(text).groups < 1:
                    raise self.fail("account_pattern", "needs one (group) for the account")
            except re.error as exc:
                raise self.fail("account_pattern", f"is not a regex: {exc}") from exc
        return text

    def _check_amounts(self, p: Profile) -> None:
        if p.debit or p.credit:
            if not (p.debit and p.credit) or p.amount or p.direction:
                raise self.fail("columns.debit", "debit and credit go together, without "
                                "amount or direction")
        elif not p.amount:
            raise self.fail("columns.amount", "give amount, or debit and credit")
        if p.direction and not (p.debit_values and p.credit_values):
            raise self.fail("debit_values", "a direction column needs debit_values and "
                            "credit_values")


class _Columns:
    """The [columns] table: each value a column name (remittance: one or a list)."""

    def __init__(self, loader: _Loader, table: dict[str, object]) -> None:
        self.loader = loader
        self.table = table

    def opt(self, key: str) -> str | None:
        value = self.table.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.loader.fail(f"columns.{key}", f"must be a column name, got {value!r}")
        return value

    def one(self, key: str) -> str:
        value = self.opt(key)
        if value is None:
            raise self.loader.fail(f"columns.{key}", "is required")
        return value

    def many(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key)
        if isinstance(value, str) and value:
            return (value,)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.loader.fail(f"columns.{key}", f"must be a name or list, got {value!r}")
        return tuple(value)
