"""Segregation of duties (A-05): who may approve or release an order, given who did what.

Always, whatever the tier says: one person gives at most one approval per order, and nobody
approves or releases a payment to an account they hold. Where the requirement lists a duty,
the two roles it pairs must be held by different people for the order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bankgate.domain.payments import PaymentOrder
from bankgate.errors import DutyConflict
from bankgate.policy.model import Duty, Requirement, Role

__all__ = ["Actor", "account_fingerprint", "check_approver", "check_releaser"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """A person acting on an order: who, with which roles, and which accounts they hold."""

    user_id: str
    roles: frozenset[Role]
    #: keyed tags of their own accounts (the store's blind index; the policy holds no key),
    #: or, for users saved before migration 0014, legacy `account_fingerprint()`s
    own_accounts: frozenset[str] = frozenset()
    name: str = ""  # the person's legal name, as a payee would be written


def account_fingerprint(number: str) -> str:
    """Legacy: the unkeyed SHA-256 of a normalised account number that users saved before
    migration 0014 hold (invertible by trying every number; new users get keyed tags)."""
    cleaned = "".join(number.split()).upper()
    return hashlib.sha256(f"bankgate-account-v1:{cleaned}".encode()).hexdigest()


def check_approver(order: PaymentOrder, actor: Actor, requirement: Requirement, *,
                   maker: str, approvers: Collection[str], payee_tag: str | None = None) -> Role:
    """The role under which `actor` may approve `order`; raises DutyConflict naming the rule.

    `payee_tag` is the store's keyed tag of the order's payee account (compared with the
    actor's own-account tags).
    """
    role = _qualifying_role(actor, requirement)
    _not_own_account(order, actor, "approve", payee_tag)
    if actor.user_id in approvers:
        raise DutyConflict(f"order {order.id}: {actor.user_id} has already approved it; "
                           "each approval must come from a different person")
    if Duty.MAKER_APPROVER in requirement.duties and actor.user_id == maker:
        raise DutyConflict(f"order {order.id}: {actor.user_id} made it and may not approve "
                           "it (duty maker_approver)")
    return role


def check_releaser(order: PaymentOrder, actor: Actor, requirement: Requirement, *,
                   maker: str, approvers: Iterable[str], payee_tag: str | None = None) -> None:
    """Raise DutyConflict unless `actor` may release `order` (`payee_tag` as above)."""
    if Role.RELEASER not in actor.roles:
        raise DutyConflict(f"order {order.id}: {actor.user_id} does not hold the releaser "
                           "role")
    _not_own_account(order, actor, "release", payee_tag)
    if Duty.MAKER_RELEASER in requirement.duties and actor.user_id == maker:
        raise DutyConflict(f"order {order.id}: {actor.user_id} made it and may not release "
                           "it (duty maker_releaser)")
    if Duty.APPROVER_RELEASER in requirement.duties and actor.user_id in set(approvers):
        raise DutyConflict(f"order {order.id}: {actor.user_id} approved it and may not "
                           "release it (duty approver_releaser)")


def _qualifying_role(actor: Actor, requirement: Requirement) -> Role:
    allowed = requirement.roles or frozenset({Role.APPROVER})
    held = sorted(actor.roles & allowed)
    if not held:
        raise DutyConflict(f"{actor.user_id} holds none of the roles that may approve this "
                           f"order ({', '.join(sorted(allowed))})")
    return held[0]


def _not_own_account(order: PaymentOrder, actor: Actor, verb: str,
                     payee_tag: str | None) -> None:
    own = actor.own_accounts
    owned = bool(own) and ((payee_tag is not None and payee_tag in own)
                           or account_fingerprint(order.payee.account.reveal()) in own)
    named = bool(actor.name) and actor.name.strip() == order.payee.name.strip()
    if owned or named:
        raise DutyConflict(f"order {order.id}: {actor.user_id} may not {verb} a payment to "
                           "their own account")
