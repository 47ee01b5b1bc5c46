"""Evaluating orders: the tier that applies, the signals that raise it, and why (explain)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bankgate.domain import FlowType
from bankgate.policy import Facts, builtin_policy, evaluate, load_policy
from bankgate.policy.model import Release, Role, Tier
from tests.builders import NOW
from tests.policy.builders import an_order

DEFAULT = builtin_policy("default")
KNOWN = Facts(at=NOW, payee_history=(Decimal("900.00"), Decimal("1000.00"), Decimal("800.00")))


def test_a_small_payment_to_a_known_payee_goes_straight_through() -> None:
    decision = evaluate(DEFAULT, an_order("1200.50"), KNOWN)
    assert decision.is_straight_through
    assert decision.rule == "tier[0] 'routine'"
    assert decision.signals == ()


def test_a_large_first_payment_needs_an_approval_with_step_up_and_says_why() -> None:
    decision = evaluate(DEFAULT, an_order("60000.00"), Facts(at=NOW))
    need = decision.requirement
    assert need.approvals == 1 and need.step_up and Role.APPROVER in need.roles
    assert decision.signals == ("new-payee",)
    text = decision.explain()
    assert "rule: tier[1] 'large'" in text
    assert "60000.00 CNY (50000.00 ≤ amount < 1000000.00)" in text
    assert "first payment to this payee account" in text
    assert f"sha256 {DEFAULT.hash[:12]}" in text


def test_the_largest_tier_needs_two_approvals_a_token_signature_and_a_releaser() -> None:
    need = evaluate(DEFAULT, an_order("1000000.00"), KNOWN).requirement
    assert (need.approvals, need.token_signature, need.release) == (2, True, Release.RELEASER)
    assert need.bank_confirmation


def test_an_order_no_tier_covers_gets_the_unmatched_requirement() -> None:
    decision = evaluate(DEFAULT, an_order("10.00", currency="EUR"), KNOWN)
    assert decision.rule == "unmatched"
    assert decision.requirement == DEFAULT.unmatched


def _tier_cases() -> list[tuple[Tier, str, FlowType]]:
    """Rules as data generate their tests: each tier's lower bound lands in that tier."""
    cases = []
    for tier in DEFAULT.tiers:
        flow = sorted(tier.flows or {FlowType.SUPPLIER})[0]
        amount = str(tier.amount.at_least or Decimal("1.00"))
        cases.append((tier, amount, flow))
    return cases


@pytest.mark.parametrize(("tier", "amount", "flow"), _tier_cases(),
                         ids=[t.id for t, _, _ in _tier_cases()])
def test_each_tier_of_the_default_policy_covers_its_lower_bound(
        tier: Tier, amount: str, flow: FlowType) -> None:
    decision = evaluate(DEFAULT, an_order(amount, flow=flow), KNOWN)
    assert decision.rule == f"{tier.path} {tier.id!r}"
    assert decision.requirement == tier.requirement


@pytest.mark.parametrize("tier", [t for t in DEFAULT.tiers if t.amount.at_least],
                         ids=lambda t: t.id)
def test_one_cent_below_a_tier_falls_into_the_tier_below(tier: Tier) -> None:
    assert tier.amount.at_least is not None
    below = str(tier.amount.at_least - Decimal("0.01"))
    decision = evaluate(DEFAULT, an_order(below), KNOWN)
    assert decision.rule != f"{tier.path} {tier.id!r}"


SIGNAL_FACTS = {
    "new-payee": (an_order("20000.00"), Facts(at=NOW)),
    "changed-account": (an_order("100.00"), Facts(at=NOW, accounts_for_name=1)),
    "edited-after-import": (an_order("100.00", source="file:abc row 2"),
                            Facts(at=NOW, payee_history=KNOWN.payee_history, edited=True)),
    "payee-daily-limit": (an_order("1000.00"), Facts(
        at=NOW, payee_history=(Decimal("1000"),), paid_today_to_payee=Decimal("499500.00"))),
    "account-daily-limit": (an_order("1000.00"), Facts(
        at=NOW, payee_history=(Decimal("1000"),), paid_today_from_account=Decimal("5000000"))),
    "unlike-history": (an_order("5000.01"), KNOWN),
    "shared-account": (an_order("100.00"), Facts(at=NOW, payee_history=(Decimal("1"),),
                                                 names_for_account=frozenset({"某人"}))),
    "unusual-country": (an_order("100.00"), Facts(at=NOW, payee_history=(Decimal("1"),),
                                                  payee_country="RU")),
}


@pytest.mark.parametrize("escalation", DEFAULT.escalations, ids=lambda e: e.id)
def test_each_escalation_of_the_default_policy_fires_and_adds_its_controls(escalation) -> None:  # type: ignore[no-untyped-def]
    order, facts = SIGNAL_FACTS[escalation.id]
    decision = evaluate(DEFAULT, order, facts)
    assert escalation.id in decision.signals
    assert decision.requirement.approvals >= escalation.requirement.approvals
    assert not decision.is_straight_through
    assert escalation.id in decision.explain()


def test_the_unusual_time_signal_reads_the_policy_time_zone() -> None:
    policy = load_policy(b"""
schema = 1
name = "t"
timezone = "Asia/Shanghai"
[unmatched]
approvals = 0
[[escalation]]
id = "night"
signal = "unusual_time"
params = { from = "08:00", until = "20:00" }
require = { approvals = 1, roles = ["approver"] }
""", origin="t")
    tuesday_noon_shanghai = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    tuesday_23h_shanghai = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    sunday_noon_shanghai = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    order = an_order()
    assert evaluate(policy, order, Facts(at=tuesday_noon_shanghai)).is_straight_through
    late = evaluate(policy, order, Facts(at=tuesday_23h_shanghai))
    assert late.signals == ("night",) and "23:00 in Asia/Shanghai" in late.explain()
    assert evaluate(policy, order, Facts(at=sunday_noon_shanghai)).signals == ("night",)


def test_straight_through_policy_lets_everything_through() -> None:
    policy = builtin_policy("straight-through")
    for amount in ("0.01", "99999999.99"):
        assert evaluate(policy, an_order(amount), Facts(at=NOW)).is_straight_through
