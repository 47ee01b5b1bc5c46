"""The store's side of the policy's facts: what was paid before, to whom, and today.

Payee accounts are sealed at rest (store/sealed.py): every comparison, DISTINCT and GROUP BY
goes through `payee_account_bidx`, the keyed tag — binding a plain number to it compares tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, and_, func, select

from bankgate.domain.money import Money, currency
from bankgate.domain.payments import PaymentOrder
from bankgate.store.sealed import cipher_of
from bankgate.store.tables import payment_orders

__all__ = ["FactsQueries", "Neighbourhood"]

_PAST = ("released", "submitted", "accepted", "settled", "awaiting_bank_confirmation")
_LIVE = ("draft", "pending_approval", "approved", "released", "submitted",
         "awaiting_bank_confirmation", "unknown", "accepted", "settled")


@dataclass
class Neighbourhood:
    """Earlier and same-day orders around a set of orders (amounts in minor units)."""

    history: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)
    accounts: dict[str, set[str]] = field(default_factory=dict)
    to_payee: dict[tuple[str, date, str], int] = field(default_factory=dict)
    from_debtor: dict[tuple[str, date, str], int] = field(default_factory=dict)


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class FactsQueries:
    """Queries over payment orders for the policy (mixed into ControlRepository)."""

    _conn: Connection

    def payee_history(self, payee_account: str, currency_code: str, *,
                      exclude: str) -> list[Decimal]:
        """Amounts of earlier orders to this account that got past approval."""
        past = ("released", "submitted", "accepted", "settled", "awaiting_bank_confirmation")
        rows = self._conn.execute(select(payment_orders.c.amount_minor).where(and_(
            payment_orders.c.payee_account_bidx == payee_account,
            payment_orders.c.currency == currency_code, payment_orders.c.id != exclude,
            payment_orders.c.status.in_(past))).limit(200))
        cur = currency(currency_code)
        return [Money.from_minor(r.amount_minor, cur).amount for r in rows]

    def names_for_account(self, payee_account: str, *, other_than: str) -> set[str]:
        """Payee names other than `other_than` seen with this account."""
        rows = self._conn.execute(select(payment_orders.c.payee_name).distinct().where(and_(
            payment_orders.c.payee_account_bidx == payee_account,
            payment_orders.c.payee_name != other_than)).limit(20))
        return {r.payee_name for r in rows}

    def accounts_for_name(self, payee_name: str, *, other_than: str) -> int:
        """How many other accounts were paid under this payee name."""
        return int(self._conn.execute(select(func.count(payment_orders.c.payee_account_bidx
                                                        .distinct())).where(and_(
            payment_orders.c.payee_name == payee_name,
            payment_orders.c.payee_account_bidx != other_than,
            payment_orders.c.status.in_(("released", "submitted", "accepted", "settled")))))
            .scalar_one())

    def total_on(self, day: date, currency_code: str, *, exclude: str,
                 payee_account: str | None = None, debtor: str | None = None) -> Decimal:
        """Sum of other live orders executing on `day`, to a payee account or from a debtor."""
        query = select(func.coalesce(func.sum(payment_orders.c.amount_minor), 0)).where(and_(
            payment_orders.c.execution_date == day, payment_orders.c.currency == currency_code,
            payment_orders.c.id != exclude, payment_orders.c.status.in_(_LIVE)))
        if payee_account is not None:
            query = query.where(payment_orders.c.payee_account_bidx == payee_account)
        if debtor is not None:
            query = query.where(payment_orders.c.debtor_id == debtor)
        minor = int(self._conn.execute(query).scalar_one())
        return Money.from_minor(minor, currency(currency_code)).amount

    def neighbourhood(self, orders: Sequence[PaymentOrder]) -> Neighbourhood:
        """What the store knows around many orders at once, in five grouped queries."""
        accounts = sorted({o.payee.account.reveal() for o in orders})
        names = sorted({o.payee.name for o in orders})
        days = sorted({o.execution_date for o in orders})
        debtors = sorted({str(o.debtor) for o in orders})
        po = payment_orders.c
        cipher = cipher_of(self._conn)
        out = Neighbourhood()
        for chunk in _chunks(accounts):
            plain = {cipher.tag(a): a for a in chunk}  # tag → number, for the grouped rows
            for r in self._conn.execute(select(po.id, po.payee_account_bidx, po.currency,
                                               po.amount_minor).where(and_(
                    po.payee_account_bidx.in_(chunk), po.status.in_(_PAST)))):
                out.history.setdefault(plain[r.payee_account_bidx], []).append(
                    (r.id, r.currency, r.amount_minor))
            for n in self._conn.execute(select(po.payee_account_bidx, po.payee_name).distinct()
                                        .where(po.payee_account_bidx.in_(chunk))):
                out.names.setdefault(plain[n.payee_account_bidx], set()).add(n.payee_name)
            for r in self._conn.execute(select(
                    po.payee_account_bidx, po.execution_date, po.currency,
                    func.sum(po.amount_minor)).where(and_(
                    po.payee_account_bidx.in_(chunk), po.execution_date.in_(days),
                    po.status.in_(_LIVE))).group_by(po.payee_account_bidx, po.execution_date,
                                                    po.currency)):
                out.to_payee[(plain[r[0]], r[1], r[2])] = int(r[3])
        for chunk in _chunks(names):
            # one envelope per distinct (name, account): MIN picks any, they all open alike
            for a in self._conn.execute(select(po.payee_name, func.min(po.payee_account)
                                               .label("account"))
                                        .where(and_(po.payee_name.in_(chunk),
                                                    po.status.in_(_PAST)))
                                        .group_by(po.payee_name, po.payee_account_bidx)):
                out.accounts.setdefault(a.payee_name, set()).add(a.account)
        for r in self._conn.execute(select(
                po.debtor_id, po.execution_date, po.currency, func.sum(po.amount_minor))
                .where(and_(po.debtor_id.in_(debtors), po.execution_date.in_(days),
                            po.status.in_(_LIVE)))
                .group_by(po.debtor_id, po.execution_date, po.currency)):
            out.from_debtor[(r[0], r[1], r[2])] = int(r[3])
        return out

