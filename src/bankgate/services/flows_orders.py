"""How the flows (payroll, claims, transfers) turn checked drafts into payment orders.

Orders are created through `services.payments`, so each is decided under the payment policy
in force (services/approvals.py, issue 5) like any other order. Those the policy releases
straight through are put at once into batches of their own, one per paying account (debtor,
bank, currency, date), never mixed with other payments: a payroll or a reimbursement run is
one message per bank. Those the policy holds for approval wait in `pending_approval`; once
approved and released through services/approvals.py, the ordinary batching job sends them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from bankgate.domain import BatchKey, CompanyAccount, PaymentOrder, Status, batch_key
from bankgate.services.batching import MAX_BATCH, add_batch  # one way to form a batch
from bankgate.services.intake import OrderDraft
from bankgate.services.payments import create_orders_under_policy  # one way
from bankgate.services.routing import store_routes
from bankgate.store import UnitOfWork

__all__ = ["pay_as_own_batches", "paying_account"]


def paying_account(bank: str, default: CompanyAccount,
                   accounts: Sequence[CompanyAccount]) -> CompanyAccount:
    """Our account at the payee's bank in `default`'s currency (同行, cheaper and same day),
    else `default`."""
    if default.bank == bank:
        return default
    same_bank = [a for a in accounts if a.bank == bank and a.currency == default.currency]
    return same_bank[0] if same_bank else default


def pay_as_own_batches(unit: UnitOfWork, drafts: Sequence[OrderDraft], *, actor: str,
                       at: datetime, source: str, urgent: bool = False) -> list[PaymentOrder]:
    """Create orders for `drafts` under the policy, route them, batch the released ones.

    Returns the orders in the order of `drafts`; released ones carry their batch id.
    """
    if not drafts:
        return []
    orders = create_orders_under_policy(unit, drafts, actor, at, source)
    store_routes(unit, orders, {d.debtor.id: d.debtor for d in drafts}, urgent=urgent, at=at)
    groups: dict[BatchKey, list[PaymentOrder]] = defaultdict(list)
    for order, draft in zip(orders, drafts, strict=True):
        if order.status is Status.RELEASED:
            groups[batch_key(order, draft.debtor)].append(order)
    for key, members in groups.items():
        for start in range(0, len(members), MAX_BATCH):
            add_batch(unit, key, members[start:start + MAX_BATCH], at)
    found = {o.id: o for o in unit.orders.get_many([o.id for o in orders])}
    return [found[o.id] for o in orders]
