"""Reading the policy: explain one order's decision, simulate a policy over past orders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bankgate.domain import PaymentOrder
from bankgate.policy import Decision, Facts, Policy, evaluate, load_policy
from bankgate.services._tx import UowFactory
from bankgate.services.policies import facts_for, needs_facts, policy_in_force

__all__ = ["Simulated", "decision_view", "explain_order", "policy_view", "simulate"]


def _decide(unit: Any, policy: Policy, order: PaymentOrder, at: datetime,
            edited: bool) -> Decision:
    facts = (facts_for(unit, order, at=at, edited=edited) if needs_facts(policy)
             else Facts(at=at, edited=edited))
    return evaluate(policy, order, facts)


def explain_order(*, uow: UowFactory, order_id: str, now: Callable[[], datetime]) -> str:
    """Which rule applied to the order when it was decided, and what the policy says now."""
    with uow() as unit:
        order = unit.orders.get(order_id)
        control = unit.control.control(order_id)
        current = _decide(unit, policy_in_force(unit), order, now(),
                          bool(control and control.edited))
        approvals = unit.control.approvals_for(order_id)
    lines = [f"order {order.id}: {order.amount} to {order.payee.name} "
             f"({order.payee.account}), {order.status.value}"]
    if control is None:
        lines.append("decided: never (created before controls were in force)")
    else:
        lines.append(f"decided {control.decided_at:%Y-%m-%d %H:%M} UTC under policy version "
                     f"{control.policy_version} (sha256 {control.policy_hash[:12]}…), "
                     f"rule {control.rule}")
        lines += [f"  because {reason}" for reason in control.reasons]
    lines.append("under the policy in force now:")
    lines += [f"  {line}" for line in current.explain().splitlines()]
    for approval in approvals:
        lines.append(f"{approval.act.value}d by {approval.user_id} as {approval.role} at "
                     f"{approval.at:%Y-%m-%d %H:%M} UTC"
                     f"{' with TOTP step-up' if approval.step_up_id else ''}"
                     f"{' and token signature' if approval.signature else ''}"
                     f"{'' if approval.is_bound_to(order) else ' — VOID: order changed'}")
    return "\n".join(lines)


def decision_view(*, uow: UowFactory, order_id: str, now: Callable[[], datetime]
                  ) -> dict[str, Any]:
    """The decision and approvals of one order, as JSON."""
    with uow() as unit:
        order = unit.orders.get(order_id)
        control = unit.control.control(order_id)
        approvals = unit.control.approvals_for(order_id, live_only=False)
    return {
        "order_id": order.id, "status": order.status.value,
        "decision": None if control is None else {
            "policy_version": control.policy_version, "policy_hash": control.policy_hash,
            "rule": control.rule, "requirement": control.requirement,
            "reasons": control.reasons, "decided_at": control.decided_at.isoformat()},
        "approvals": [{"act": a.act.value, "by": a.user_id, "role": a.role,
                       "at": a.at.isoformat(), "order_hash": a.order_hash,
                       "step_up": a.step_up_id is not None, "signed": a.signature is not None,
                       "void": not a.is_bound_to(order)} for a in approvals],
        "explain": explain_order(uow=uow, order_id=order_id, now=now)}


def policy_view(*, uow: UowFactory) -> dict[str, Any]:
    """The policy in force: name, version, hash and its file."""
    with uow() as unit:
        policy = policy_in_force(unit)
        rows = unit.control.policies("active")
    return {"name": policy.name, "version": policy.version, "hash": policy.hash,
            "content": rows[0].content.decode("utf-8") if rows else None,
            "tiers": [t.id for t in policy.tiers],
            "escalations": [e.id for e in policy.escalations]}


@dataclass(frozen=True, slots=True)
class Simulated:
    """One past order under a candidate policy and under the one in force."""

    order: PaymentOrder
    candidate: Decision
    in_force: Decision


def simulate(*, uow: UowFactory, content: bytes, origin: str, now: Callable[[], datetime],
             limit: int = 200) -> list[Simulated]:
    """What the policy in `content` would require of the latest `limit` orders."""
    candidate = load_policy(content, origin=origin)
    at = now()
    with uow() as unit:
        current = policy_in_force(unit)
        orders = unit.orders.list(limit=limit)
        return [Simulated(o, _decide(unit, candidate, o, at, False),
                          _decide(unit, current, o, at, False)) for o in orders]
