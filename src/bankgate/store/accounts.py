"""Company accounts: rows ⇄ `CompanyAccount`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bankgate.domain import AccountId, AccountKind, AccountNumber, BankId, CompanyAccount, currency
from bankgate.errors import NotFound
from bankgate.store.tables import accounts

__all__ = ["AccountRepository"]


class AccountRepository:
    """Our accounts at banks."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, account: CompanyAccount, *, at: datetime) -> None:
        """Store a new account."""
        self._conn.execute(accounts.insert().values(
            id=account.id, bank=account.bank, number=account.number.reveal(),
            number_bidx=account.number.reveal(),  # sealed number, keyed tag (store/sealed.py)
            kind=account.number.kind.value, currency=account.currency.code,
            name=account.name, purpose=account.purpose, created_at=at))

    def get(self, account_id: str) -> CompanyAccount:
        """The account with this id."""
        row = self._conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if row is None:
            raise NotFound(f"account {account_id!r} does not exist")
        return _to_account(row._mapping)

    def all(self) -> list[CompanyAccount]:
        """Every account, by bank then id."""
        rows = self._conn.execute(select(accounts).order_by(accounts.c.bank, accounts.c.id))
        return [_to_account(row._mapping) for row in rows]

    def by_number(self, number: str) -> list[CompanyAccount]:
        """Accounts with this number at any bank (an IBAN is unique; a domestic one may not be)."""
        rows = self._conn.execute(select(accounts).where(accounts.c.number_bidx == number))
        return [_to_account(row._mapping) for row in rows]

    def find(self, bank: str, number: str) -> CompanyAccount | None:
        """The account with this number at this bank, if we hold it."""
        row = self._conn.execute(select(accounts).where(
            accounts.c.bank == bank, accounts.c.number_bidx == number)).first()
        return None if row is None else _to_account(row._mapping)


def _to_account(row: Any) -> CompanyAccount:
    return CompanyAccount(
        id=AccountId(row["id"]), bank=BankId(row["bank"]),
        number=AccountNumber(row["number"], AccountKind(row["kind"])),
        currency=currency(row["currency"]), name=row["name"], purpose=row["purpose"])
