"""The sandbox world: which banks exist, which dialect each speaks, and the accounts they hold.

A world is data (`World.from_dict` / `to_dict`, JSON-friendly) and is valid once built:
bank ids are unique and speak a known dialect, every account belongs to a bank, numbers are
unique per bank, currencies are ISO 4217 and opening balances are plain decimal strings
with the currency's minor units.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bankgate.domain import bank_id, clean_text, currency, parse_amount
from bankgate.errors import ConfigError, DomainError
from bankgate.sandbox.dialects import DIALECTS

__all__ = ["AccountSpec", "BankSpec", "World"]

_NUMBER: Final = re.compile(r"[0-9A-Za-z]{6,34}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BankSpec:
    """A sandbox bank: its id (the URL prefix), its dialect and a display name."""

    id: str
    dialect: str
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSpec:
    """An account a sandbox bank holds, as the world begins."""

    bank: str
    number: str
    holder: str
    currency: str = "CNY"
    opening_balance: str = "0.00"  # a plain decimal string in the currency's minor units
    open: bool = True
    company: bool = False  # one of the gateway's own accounts (the demo company's)

    @property
    def opening_minor(self) -> int:
        """The opening balance in integer minor units."""
        return parse_amount(self.opening_balance, currency(self.currency)).to_minor()


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    """Banks and their accounts; `seed` records how a generated world was made."""

    banks: tuple[BankSpec, ...]
    accounts: tuple[AccountSpec, ...]
    company: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        _validate(self)

    def bank(self, bank: str) -> BankSpec:
        """The bank with this id; KeyError naming it otherwise."""
        for spec in self.banks:
            if spec.id == bank:
                return spec
        raise KeyError(f"no sandbox bank {bank!r}")

    def company_accounts(self) -> list[AccountSpec]:
        """The gateway's own accounts (those marked `company`)."""
        return [account for account in self.accounts if account.company]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> World:
        """A world from plain data; ConfigError naming the field that is wrong."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"world: expected an object, got {type(data).__name__}")
        banks = tuple(_build(BankSpec, item, f"banks[{i}]")
                      for i, item in enumerate(_list(data, "banks")))
        accounts = tuple(_build(AccountSpec, item, f"accounts[{i}]")
                         for i, item in enumerate(_list(data, "accounts")))
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ConfigError(f"world.seed: expected an integer, got {seed!r}")
        company = data.get("company", "")
        if not isinstance(company, str):
            raise ConfigError(f"world.company: expected text, got {company!r}")
        return cls(banks=banks, accounts=accounts, company=company, seed=seed)

    @classmethod
    def from_json(cls, path: Path) -> World:
        """A world from a JSON file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the world: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `from_dict` reads back to an equal world."""
        return {
            "company": self.company,
            "seed": self.seed,
            "banks": [{"id": b.id, "dialect": b.dialect, "name": b.name} for b in self.banks],
            "accounts": [{"bank": a.bank, "number": a.number, "holder": a.holder,
                          "currency": a.currency, "opening_balance": a.opening_balance,
                          "open": a.open, "company": a.company} for a in self.accounts],
        }


_FIELD_TYPES: Final[Mapping[str, type | tuple[type, ...]]] = {
    "id": str, "dialect": str, "name": str, "bank": str, "number": str, "holder": str,
    "currency": str, "opening_balance": str, "open": bool, "company": bool,
}


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ConfigError(f"world.{key}: expected a list, got {type(value).__name__}")
    return value


def _build(kind: type[BankSpec] | type[AccountSpec], item: Any, where: str) -> Any:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: expected an object, got {type(item).__name__}")
    known = set(kind.__dataclass_fields__)
    for key, value in item.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown field (known: {sorted(known)})")
        if not isinstance(value, _FIELD_TYPES[key]):
            raise ConfigError(f"{where}.{key}: expected {_FIELD_TYPES[key].__name__}, "  # type: ignore[union-attr]
                              f"got {value!r}")
    try:
        return kind(**item)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _validate(world: World) -> None:
    seen: set[str] = set()
    for i, spec in enumerate(world.banks):
        try:
            bank_id(spec.id, field=f"banks[{i}].id")
        except DomainError as exc:
            raise ConfigError(str(exc)) from exc
        if spec.id in seen:
            raise ConfigError(f"banks[{i}].id: bank {spec.id!r} is listed twice")
        if spec.dialect not in DIALECTS:
            raise ConfigError(f"banks[{i}].dialect: {spec.dialect!r} is not one of "
                              f"{sorted(DIALECTS)}")
        seen.add(spec.id)
    numbers: set[tuple[str, str]] = set()
    for i, account in enumerate(world.accounts):
        _validate_account(account, f"accounts[{i}]", seen)
        if (account.bank, account.number) in numbers:
            raise ConfigError(f"accounts[{i}].number: {account.number} is held twice at "
                              f"{account.bank}")
        numbers.add((account.bank, account.number))


def _validate_account(account: AccountSpec, where: str, banks: set[str]) -> None:
    if account.bank not in banks:
        raise ConfigError(f"{where}.bank: {account.bank!r} is not a bank of this world")
    if not _NUMBER.fullmatch(account.number):
        raise ConfigError(f"{where}.number: {account.number!r} is not 6-34 letters or digits")
    try:
        clean_text(account.holder, field=f"{where}.holder", max_len=140)
        amount = parse_amount(account.opening_balance, currency(account.currency),
                              field=f"{where}.opening_balance")
    except DomainError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if amount.amount < 0:
        raise ConfigError(f"{where}.opening_balance: {account.opening_balance} is negative")
