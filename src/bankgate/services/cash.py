"""Cash across all banks: fetch every account's balance through its bank's channel."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bankgate.connectors.base import Channel
from bankgate.domain import Balance, BalanceType, CompanyAccount, Money
from bankgate.errors import ChannelError
from bankgate.services._tx import UowFactory, in_transaction

__all__ = ["AccountCash", "fetch_balances", "totals_by_currency"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountCash:
    """One account's cash as its bank reported it, or why it could not be had."""

    account: CompanyAccount
    ledger: Money | None
    available: Money | None
    as_of: datetime | None
    error: str | None = None


def fetch_balances(*, uow: UowFactory, channels: Mapping[str, Channel],
                   now: Callable[[], datetime]) -> list[AccountCash]:
    """Ask every bank for its accounts' balances; store them; one bank down spoils no other."""
    with uow() as unit:
        accounts = unit.accounts.all()
    by_bank: dict[str, list[CompanyAccount]] = defaultdict(list)
    for account in accounts:
        by_bank[account.bank].append(account)
    cash: list[AccountCash] = []
    fetched: list[Balance] = []
    for bank, members in by_bank.items():
        channel = channels.get(bank)
        if channel is None:
            cash.extend(_failed(a, "no channel configured for this bank") for a in members)
            continue
        try:
            balances = channel.balances(members)
        except ChannelError as exc:
            cash.extend(_failed(a, str(exc)) for a in members)
            continue
        fetched.extend(balances)
        cash.extend(_cash(a, balances) for a in members)
    in_transaction(uow, lambda unit: unit.balances.add_many(fetched, at=now()))
    return cash


def _failed(account: CompanyAccount, why: str) -> AccountCash:
    return AccountCash(account=account, ledger=None, available=None, as_of=None, error=why)


def _cash(account: CompanyAccount, balances: Sequence[Balance]) -> AccountCash:
    mine = {b.type: b for b in balances if b.account == account.id}
    ledger = mine.get(BalanceType.INTERIM_BOOKED) or mine.get(BalanceType.CLOSING_BOOKED)
    available = mine.get(BalanceType.INTERIM_AVAILABLE) or mine.get(
        BalanceType.CLOSING_AVAILABLE)
    if ledger is None:
        return _failed(account, "the bank sent no booked balance for this account")
    return AccountCash(account=account, ledger=ledger.amount,
                       available=available.amount if available else None, as_of=ledger.as_of)


def totals_by_currency(cash: list[AccountCash]) -> dict[str, Money]:
    """Sum of ledger balances per currency, over the accounts that answered."""
    totals: dict[str, Money] = {}
    for item in cash:
        if item.ledger is not None:
            code = item.ledger.currency.code
            totals[code] = totals[code] + item.ledger if code in totals else item.ledger
    return totals
