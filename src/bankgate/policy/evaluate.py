"""`evaluate(policy, order, facts) -> Decision`: the tier the order is in, raised by signals."""

from __future__ import annotations

from bankgate.domain.payments import PaymentOrder
from bankgate.policy.model import Decision, Policy, Requirement, Tier
from bankgate.policy.predicates import SIGNALS, Facts

__all__ = ["evaluate", "matching_tier"]


def matching_tier(policy: Policy, order: PaymentOrder, facts: Facts) -> Tier | None:
    """The one tier covering the order (tiers are disjoint, checked on load), or None."""
    for tier in policy.tiers:
        if _matches(tier, order, facts):
            return tier
    return None


def evaluate(policy: Policy, order: PaymentOrder, facts: Facts) -> Decision:
    """What the policy requires of `order`, with the rule that applied and every reason."""
    tier = matching_tier(policy, order, facts)
    if tier is None:
        requirement, rule = policy.unmatched, "unmatched"
        reasons = [f"no tier covers a {order.flow.value} order of {order.amount} "
                   "(the policy's 'unmatched' requirement applies)"]
    else:
        requirement, rule = tier.requirement, f"{tier.path} {tier.id!r}"
        reasons = [_why(tier, order, facts)]
    fired: list[str] = []
    for escalation in policy.escalations:
        reason = SIGNALS[escalation.signal](order, facts, escalation.params)
        if reason is None:
            continue
        fired.append(escalation.id)
        requirement = requirement.stricter(escalation.requirement)
        reasons.append(f"{escalation.path} {escalation.id!r}: {reason} "
                       f"(adds {escalation.requirement.describe()})")
    return Decision(policy_name=policy.name, policy_version=policy.version,
                    policy_hash=policy.hash, rule=rule, requirement=requirement,
                    reasons=tuple(reasons), signals=tuple(fired))


def stricter_of(first: Decision, second: Decision) -> Requirement:
    """What an order needs when two decisions (at submission, at release) both bind it."""
    return first.requirement.stricter(second.requirement)


def _matches(tier: Tier, order: PaymentOrder, facts: Facts) -> bool:
    if tier.flows is not None and order.flow not in tier.flows:
        return False
    if tier.currencies is not None and order.amount.currency.code not in tier.currencies:
        return False
    if tier.channels is not None and facts.channel not in tier.channels:
        return False
    if tier.payee is not None and (tier.payee == "new") != facts.payee_is_new:
        return False
    return tier.amount.contains(order.amount.amount)


def _why(tier: Tier, order: PaymentOrder, facts: Facts) -> str:
    parts = [f"flow {order.flow.value}" + ("" if tier.flows is None else " is in "
                                           + ", ".join(sorted(tier.flows)))]
    parts.append(f"{order.amount} ({tier.amount.describe()})")
    if tier.channels is not None:
        parts.append(f"channel {facts.channel}")
    if tier.payee is not None:
        parts.append(f"payee is {tier.payee.value}")
    description = f" — {tier.description}" if tier.description else ""
    return "; ".join(parts) + description
