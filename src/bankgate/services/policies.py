"""The policy in force: stored versions, four-eyes changes, and facts gathered for decisions.

A store with no policy uses the shipped `default`. The first policy may be installed
directly (bootstrap, a fresh store); every later change is *proposed* by one treasurer
admin and *activated* by another (A-08), each step audited. A bad file is refused whole and
the policy in force stays as it was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.money import Money
from bankgate.domain.payments import PaymentOrder
from bankgate.domain.people import Role, User
from bankgate.errors import DutyConflict, PermissionDenied, PolicyError
from bankgate.policy import (
    BUILTIN,
    Facts,
    Policy,
    builtin_policy,
    builtin_policy_text,
    load_policy,
)
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.store import UnitOfWork
from bankgate.store.control import PolicyRow

__all__ = ["activate_policy", "ensure_policy", "facts_for", "facts_for_many", "install_policy",
           "policy_in_force", "propose_policy"]

log = logging.getLogger(__name__)


def policy_in_force(unit: UnitOfWork) -> Policy:
    """The active stored policy (with its version), or the shipped default (version 0)."""
    active = unit.control.policies("active")
    if not active:
        return builtin_policy("default")
    row = active[0]
    return replace(load_policy(row.content, origin=f"policy version {row.version}"),
                   version=row.version)


def _audit(unit: UnitOfWork, at: datetime, actor: str, action: str, version: int,
           **detail: object) -> None:
    unit.audit.append(AuditRecord(at=at, actor=actor, action=action, subject_kind="policy",
                                  subject_id=str(version), detail=detail))


def _refuse(uow: UowFactory, at: datetime, actor: str, reason: str) -> None:
    in_transaction(uow, lambda unit: _audit(unit, at, actor, "policy.refused", 0,
                                            reason=reason))


def install_policy(*, uow: UowFactory, content: bytes, origin: str, actor: str,
                   now: Callable[[], datetime]) -> Policy:
    """Install the first policy of a store; PolicyError if one is already in force."""
    at = now()
    try:
        policy = load_policy(content, origin=origin)
    except PolicyError as exc:
        _refuse(uow, at, actor, str(exc))
        raise

    def work(unit: UnitOfWork) -> Policy:
        if unit.control.policies("active"):
            raise PolicyError("a policy is already in force; propose a change and have "
                              "another treasurer_admin activate it")
        version = unit.control.next_policy_version()
        unit.control.add_policy(PolicyRow(
            version=version, name=policy.name, hash=policy.hash, content=content,
            state="active", proposed_by=actor, proposed_at=at, decided_by=actor,
            decided_at=at))
        _audit(unit, at, actor, "policy.installed", version, name=policy.name,
               hash=policy.hash)
        return replace(policy, version=version)

    return in_transaction(uow, work)


def propose_policy(*, uow: UowFactory, content: bytes, origin: str, by: User,
                   now: Callable[[], datetime]) -> int:
    """Store a validated policy as proposed; its version number. Needs treasurer_admin."""
    at = now()
    try:
        _require_admin(by)
        policy = load_policy(content, origin=origin)
    except (PolicyError, PermissionDenied) as exc:
        _refuse(uow, at, by.actor, str(exc))
        raise

    def work(unit: UnitOfWork) -> int:
        version = unit.control.next_policy_version()
        unit.control.add_policy(PolicyRow(
            version=version, name=policy.name, hash=policy.hash, content=content,
            state="proposed", proposed_by=by.actor, proposed_at=at, decided_by=None,
            decided_at=None))
        _audit(unit, at, by.actor, "policy.proposed", version, name=policy.name,
               hash=policy.hash)
        return version

    return in_transaction(uow, work)


def activate_policy(*, uow: UowFactory, version: int, by: User,
                    now: Callable[[], datetime]) -> Policy:
    """Put a proposed version in force; by a treasurer_admin other than its proposer."""
    at = now()

    def work(unit: UnitOfWork) -> Policy:
        row = unit.control.policy(version, lock=True)
        if row.state != "proposed":
            raise PolicyError(f"policy version {version} is {row.state}, not proposed")
        if row.proposed_by == by.actor:
            raise DutyConflict(f"policy version {version}: {by.actor} proposed it and may "
                               "not activate it too")
        for active in unit.control.policies("active"):
            unit.control.set_policy_state(active.version, "superseded", by=by.actor, at=at,
                                          expect="active")
        unit.control.set_policy_state(version, "active", by=by.actor, at=at,
                                      expect="proposed")
        _audit(unit, at, by.actor, "policy.activated", version, hash=row.hash)
        return replace(load_policy(row.content, origin=f"policy version {version}"),
                       version=version)

    try:
        _require_admin(by)
        return in_transaction(uow, work)
    except (PolicyError, PermissionDenied) as exc:
        _refuse(uow, at, by.actor, str(exc))
        raise


def _require_admin(user: User) -> None:
    if Role.TREASURER_ADMIN not in user.roles:
        raise PermissionDenied(f"{user.actor} may not change the policy (treasurer_admin "
                               "only)")


def facts_for(unit: UnitOfWork, order: PaymentOrder, *, at: datetime, edited: bool = False,
              channel: str | None = None) -> Facts:
    """What the store knows around `order`, for the policy's tiers and signals."""
    account = order.payee.account.reveal()
    code = order.amount.currency.code
    country = account[:2] if account[:2].isalpha() else None
    return Facts(
        at=at, channel=channel,
        payee_history=tuple(unit.control.payee_history(account, code, exclude=order.id)),
        names_for_account=frozenset(unit.control.names_for_account(
            account, other_than=order.payee.name)),
        accounts_for_name=unit.control.accounts_for_name(order.payee.name, other_than=account),
        paid_today_to_payee=unit.control.total_on(order.execution_date, code, exclude=order.id,
                                                  payee_account=account),
        paid_today_from_account=unit.control.total_on(order.execution_date, code,
                                                      exclude=order.id, debtor=order.debtor),
        edited=edited, payee_country=country)


def facts_for_many(unit: UnitOfWork, orders: Sequence[PaymentOrder], *,
                   at: datetime) -> dict[str, Facts]:
    """`facts_for` of many new orders at once (a payment file), from grouped queries."""
    near = unit.control.neighbourhood(orders)
    out: dict[str, Facts] = {}
    for order in orders:
        account, code = order.payee.account.reveal(), order.amount.currency.code
        own = order.amount.to_minor()
        cur = order.amount.currency
        history = tuple(Money.from_minor(minor, cur).amount
                        for ident, c, minor in near.history.get(account, [])
                        if c == code and ident != order.id)
        to_payee = near.to_payee.get((account, order.execution_date, code), own) - own
        from_debtor = near.from_debtor.get((order.debtor, order.execution_date, code),
                                           own) - own
        out[order.id] = Facts(
            at=at, payee_history=history,
            names_for_account=frozenset(near.names.get(account, set()) - {order.payee.name}),
            accounts_for_name=len(near.accounts.get(order.payee.name, set()) - {account}),
            paid_today_to_payee=Money.from_minor(to_payee, cur).amount,
            paid_today_from_account=Money.from_minor(from_debtor, cur).amount,
            payee_country=account[:2] if account[:2].isalpha() else None)
    return out


def needs_facts(policy: Policy) -> bool:
    """False when no tier or signal reads the store (straight-through): skip the queries."""
    return bool(policy.escalations) or any(t.payee is not None for t in policy.tiers)


def ensure_policy(*, uow: UowFactory, spec: str | None, now: Callable[[], datetime]) -> None:
    """Install the configured policy (a built-in name or a file) into a store that has none.

    A store that already has a policy keeps it: later changes go through propose/activate.
    """
    if spec is None:
        return
    content, origin = _policy_source(spec)
    with uow() as unit:
        active = unit.control.policies("active")
    if not active:
        install_policy(uow=uow, content=content, origin=origin, actor="system:config", now=now)
    elif active[0].hash != hashlib.sha256(content).hexdigest():
        log.warning("the configured policy differs from the one in force; the store's stays "
                    "in force (change it with `bankgate policy propose` and `activate`)",
                    extra={"configured": origin, "in_force": active[0].version})


def _policy_source(spec: str) -> tuple[bytes, str]:
    if spec in BUILTIN:
        return builtin_policy_text(spec), f"builtin:{spec}"
    try:
        return Path(spec).read_bytes(), spec
    except OSError as exc:
        raise PolicyError(f"policy: cannot read {spec}: {exc.strerror}") from exc
