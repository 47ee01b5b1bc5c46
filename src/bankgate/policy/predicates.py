"""Facts about an order's surroundings and the fraud signals read from them.

Services gather `Facts` from the store (what was paid before, to whom, today); the signals
here are pure functions of the order, the facts and the escalation's parameters, each
returning a reason (a sentence) when it fires and `None` when it does not. The signals are
the scenarios treasury systems watch for business-email compromise and insider fraud:
a first payment to a new account, a known payee whose account changed, an order edited after
the ERP sent it, daily totals past a limit, an amount far from the payee's history, one
account used by several payees, and payments at odd hours or to unusual countries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from bankgate.domain.payments import PaymentOrder

__all__ = ["PARAMS", "SIGNALS", "Facts", "Signal"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What the store knows around one order (amounts in the order's currency)."""

    at: datetime  # when the decision is taken
    channel: str | None = None  # the debtor bank's channel kind
    payee_history: tuple[Decimal, ...] = ()  # earlier orders to this payee account
    names_for_account: frozenset[str] = frozenset()  # other payee names seen for this account
    accounts_for_name: int = 0  # other accounts seen for this payee name
    paid_today_to_payee: Decimal = Decimal(0)  # other live orders to this account today
    paid_today_from_account: Decimal = Decimal(0)  # other live orders from the debtor today
    edited: bool = False  # changed after it was created (imported from the ERP or a file)
    payee_country: str | None = None  # ISO 3166 alpha-2 when the account is an IBAN
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def payee_is_new(self) -> bool:
        """True when nothing was ever paid to this payee account before."""
        return not self.payee_history


Signal = Callable[[PaymentOrder, Facts, Mapping[str, object]], str | None]


def _amount(params: Mapping[str, object], key: str, order: PaymentOrder) -> Decimal | None:
    limits = params.get(key)
    if not isinstance(limits, Mapping):
        return None
    found = limits.get(order.amount.currency.code)
    return found if isinstance(found, Decimal) else None


def _above(params: Mapping[str, object], order: PaymentOrder) -> bool:
    floor = _amount(params, "at_least", order)
    return floor is None or order.amount.amount >= floor


def new_payee(order: PaymentOrder, facts: Facts, params: Mapping[str, object]) -> str | None:
    """First payment to this payee account."""
    if facts.payee_is_new and _above(params, order):
        return "this is the first payment to this payee account"
    return None


def changed_account(order: PaymentOrder, facts: Facts,
                    params: Mapping[str, object]) -> str | None:
    """A payee we know by name, now with an account we never paid (BEC's favourite)."""
    if facts.payee_is_new and facts.accounts_for_name > 0 and _above(params, order):
        return (f"payee {order.payee.name!r} was paid before on another account; this "
                "account is new")
    return None


def edited_after_import(order: PaymentOrder, facts: Facts,
                        params: Mapping[str, object]) -> str | None:
    """An order the ERP (or a file) sent, changed in bankgate afterwards."""
    if facts.edited and order.source != "manual":
        return f"the order was edited after it came from {order.source.split(' ')[0]}"
    return None


def daily_limit_payee(order: PaymentOrder, facts: Facts,
                      params: Mapping[str, object]) -> str | None:
    """Today's total to this payee account, this order included, past a limit."""
    limit = _amount(params, "limit", order)
    total = facts.paid_today_to_payee + order.amount.amount
    if limit is not None and total > limit:
        return f"today's total to this payee account {total} exceeds {limit}"
    return None


def daily_limit_account(order: PaymentOrder, facts: Facts,
                        params: Mapping[str, object]) -> str | None:
    """Today's total from the debtor account, this order included, past a limit."""
    limit = _amount(params, "limit", order)
    total = facts.paid_today_from_account + order.amount.amount
    if limit is not None and total > limit:
        return f"today's total from account {order.debtor} {total} exceeds {limit}"
    return None


def history_deviation(order: PaymentOrder, facts: Facts,
                      params: Mapping[str, object]) -> str | None:
    """An amount more than `factor` times the largest earlier payment to this payee."""
    factor = params.get("factor")
    minimum = params.get("min_history", 3)
    if not isinstance(factor, Decimal) or not isinstance(minimum, int):
        return None
    if len(facts.payee_history) < minimum:
        return None
    largest = max(facts.payee_history)
    if order.amount.amount > largest * factor:
        return (f"the amount is more than {factor}× the largest of "
                f"{len(facts.payee_history)} earlier payments to this payee ({largest})")
    return None


def shared_account(order: PaymentOrder, facts: Facts,
                   params: Mapping[str, object]) -> str | None:
    """One payee account used under several payee names."""
    if facts.names_for_account:
        return (f"this payee account is also used by {len(facts.names_for_account)} other "
                "payee name(s)")
    return None


def unusual_country(order: PaymentOrder, facts: Facts,
                    params: Mapping[str, object]) -> str | None:
    """An IBAN from a country outside the policy's usual ones."""
    usual = params.get("usual", ())
    if facts.payee_country and isinstance(usual, tuple) and facts.payee_country not in usual:
        return f"the payee account is in {facts.payee_country}, not one of {', '.join(usual)}"
    return None


def unusual_time(order: PaymentOrder, facts: Facts,
                 params: Mapping[str, object]) -> str | None:
    """Outside business hours or on a weekend, in the policy's time zone."""
    zone = params.get("timezone")
    start, end = params.get("from", time(8)), params.get("until", time(20))
    if not isinstance(zone, str) or not isinstance(start, time) or not isinstance(end, time):
        return None
    local = facts.at.astimezone(ZoneInfo(zone))
    if local.weekday() >= 5:
        return f"it is {local:%A %H:%M} in {zone} (a weekend)"
    if not start <= local.time().replace(tzinfo=None) < end:
        return f"it is {local:%H:%M} in {zone}, outside {start:%H:%M}–{end:%H:%M}"
    return None


SIGNALS: Final[Mapping[str, Signal]] = {
    "new_payee": new_payee,
    "changed_account": changed_account,
    "edited_after_import": edited_after_import,
    "daily_limit_payee": daily_limit_payee,
    "daily_limit_account": daily_limit_account,
    "history_deviation": history_deviation,
    "shared_account": shared_account,
    "unusual_country": unusual_country,
    "unusual_time": unusual_time,
}

#: The parameters each signal takes, and their kind ("amounts": {CUR: "decimal"}).
PARAMS: Final[Mapping[str, Mapping[str, str]]] = {
    "new_payee": {"at_least": "amounts"},
    "changed_account": {"at_least": "amounts"},
    "edited_after_import": {},
    "daily_limit_payee": {"limit": "amounts"},
    "daily_limit_account": {"limit": "amounts"},
    "history_deviation": {"factor": "decimal", "min_history": "int"},
    "shared_account": {},
    "unusual_country": {"usual": "strings"},
    "unusual_time": {"from": "time", "until": "time"},
}
#: Parameters a signal needs; the loader refuses the escalation without them.
REQUIRED_PARAMS: Final[Mapping[str, tuple[str, ...]]] = {
    "daily_limit_payee": ("limit",),
    "daily_limit_account": ("limit",),
    "history_deviation": ("factor",),
    "unusual_country": ("usual",),
}
