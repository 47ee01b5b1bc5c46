"""Our company accounts: registered from configuration, idempotently."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bankgate.domain import AccountId, AccountNumber, CompanyAccount, bank_id, clean_text, currency
from bankgate.errors import ConfigError, DomainError, NotFound
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.store import UnitOfWork

__all__ = ["account_from_mapping", "list_accounts", "register_accounts"]


def account_from_mapping(raw: Mapping[str, Any], *, where: str) -> CompanyAccount:
    """A company account from configuration; ConfigError names the entry and key."""
    try:
        return CompanyAccount(
            id=AccountId(clean_text(raw.get("id"), field="id", max_len=40)),
            bank=bank_id(str(raw.get("bank", "")), field="bank"),
            number=AccountNumber.parse(str(raw.get("number", "")), field="number"),
            currency=currency(str(raw.get("currency", ""))),
            name=clean_text(raw.get("name"), field="name", max_len=140),
            purpose=clean_text(raw.get("purpose", "operating"), field="purpose", max_len=40))
    except DomainError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def register_accounts(*, uow: UowFactory, accounts: Sequence[CompanyAccount],
                      now: Callable[[], datetime]) -> int:
    """Add accounts we do not hold yet; returns how many were new."""
    def work(unit: UnitOfWork) -> int:
        new = 0
        for account in accounts:
            try:
                held = unit.accounts.get(account.id)
            except NotFound:
                unit.accounts.add(account, at=now())
                new += 1
                continue
            if held != account:
                raise ConfigError(f"account {account.id}: configuration differs from the "
                                  "account already registered; accounts are never silently "
                                  "changed")
        return new

    return in_transaction(uow, work)


def list_accounts(*, uow: UowFactory) -> list[CompanyAccount]:
    """Every account we hold."""
    with uow() as unit:
        return unit.accounts.all()
