"""The policy as values: tiers and escalations, what they require, and the decision for one order.

A policy is a partition of orders into *tiers* (disjoint by flow, currency, amount band,
channel and payee novelty; checked on load) plus *escalations*: fraud signals that raise
what a tier requires (more approvals, a step-up, a token signature). Orders no tier covers
get the policy's `unmatched` requirement. Requirements combine by taking the stricter of
each field, so an escalation can only ever add controls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from bankgate.domain.payments import FlowType
from bankgate.domain.people import Role

__all__ = [
    "ALL_DUTIES",
    "AmountBand",
    "Decision",
    "Duty",
    "Escalation",
    "PayeeStatus",
    "Policy",
    "Release",
    "Requirement",
    "Role",
    "Tier",
]


class Duty(StrEnum):
    """Pairs of roles that must be held by different people for one order."""

    MAKER_APPROVER = "maker_approver"
    APPROVER_RELEASER = "approver_releaser"
    MAKER_RELEASER = "maker_releaser"


ALL_DUTIES = frozenset(Duty)


class Release(StrEnum):
    """Who moves an approved order to `released`."""

    AUTO = "auto"  # the last required approval releases it
    RELEASER = "releaser"  # a person with the releaser role must release it


class PayeeStatus(StrEnum):
    """Whether we have paid this payee account before."""

    NEW = "new"
    KNOWN = "known"


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """The controls an order needs before it may leave `released`."""

    approvals: int = 0
    roles: frozenset[Role] = frozenset()  # any of these roles qualifies an approver
    step_up: bool = False  # a fresh TOTP code with each approval and the release
    token_signature: bool = False  # each approval carries a token signature over the hash
    bank_confirmation: bool = False  # the bank holds it for a second confirmation (网银二次确认)
    release: Release = Release.AUTO
    duties: frozenset[Duty] = ALL_DUTIES

    @property
    def is_straight_through(self) -> bool:
        """True when nobody needs to act: no approval, no step-up, released automatically."""
        return (self.approvals == 0 and self.release is Release.AUTO and not self.step_up
                and not self.token_signature)

    def stricter(self, other: Requirement) -> Requirement:
        """The stricter of each field of both requirements."""
        return Requirement(
            approvals=max(self.approvals, other.approvals),
            roles=(self.roles & other.roles) or self.roles or other.roles,
            step_up=self.step_up or other.step_up,
            token_signature=self.token_signature or other.token_signature,
            bank_confirmation=self.bank_confirmation or other.bank_confirmation,
            release=(Release.RELEASER if Release.RELEASER in (self.release, other.release)
                     else Release.AUTO),
            duties=self.duties | other.duties)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able form (stored with each order's decision)."""
        return {"approvals": self.approvals, "roles": sorted(self.roles),
                "step_up": self.step_up, "token_signature": self.token_signature,
                "bank_confirmation": self.bank_confirmation, "release": self.release.value,
                "duties": sorted(self.duties)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> Requirement:
        """The inverse of `to_dict`."""
        def names(key: str) -> list[str]:
            value = raw.get(key, [])
            return [str(v) for v in value] if isinstance(value, list) else []

        approvals = raw.get("approvals", 0)
        return cls(approvals=approvals if isinstance(approvals, int) else 0,
                   roles=frozenset(Role(r) for r in names("roles")),
                   step_up=raw.get("step_up") is True,
                   token_signature=raw.get("token_signature") is True,
                   bank_confirmation=raw.get("bank_confirmation") is True,
                   release=Release(str(raw.get("release", "auto"))),
                   duties=frozenset(Duty(d) for d in names("duties")))

    def describe(self) -> str:
        """`2 approvals (approver, treasurer_admin) + TOTP step-up + releaser`."""
        if self.is_straight_through and not self.bank_confirmation:
            return "straight-through"
        parts: list[str] = []
        if self.approvals:
            roles = ", ".join(sorted(self.roles))
            parts.append(f"{self.approvals} approval{'s' if self.approvals > 1 else ''} "
                         f"({roles})")
        if self.step_up:
            parts.append("TOTP step-up")
        if self.token_signature:
            parts.append("token signature")
        if self.release is Release.RELEASER:
            parts.append("release by a releaser")
        if self.bank_confirmation:
            parts.append("bank-side second confirmation")
        return " + ".join(parts)


@dataclass(frozen=True, slots=True)
class AmountBand:
    """`at_least <= amount < below` in one currency (either end open)."""

    at_least: Decimal | None = None
    below: Decimal | None = None

    def contains(self, amount: Decimal) -> bool:
        """True if `amount` is in the band."""
        return ((self.at_least is None or amount >= self.at_least)
                and (self.below is None or amount < self.below))

    def overlaps(self, other: AmountBand) -> bool:
        """True if some amount is in both bands."""
        low = max(self.at_least or Decimal(0), other.at_least or Decimal(0))
        high_values = [b for b in (self.below, other.below) if b is not None]
        return not high_values or low < min(high_values)

    def describe(self) -> str:
        """`50000.00 ≤ amount < 1000000.00`."""
        if self.at_least is not None and self.below is not None:
            return f"{self.at_least} ≤ amount < {self.below}"
        if self.at_least is not None:
            return f"amount ≥ {self.at_least}"
        if self.below is not None:
            return f"amount < {self.below}"
        return "any amount"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    """One band of orders and what they require; `None` on a dimension means any."""

    id: str
    path: str  # "tier[2]" — where it is in the file, for messages
    description: str
    flows: frozenset[FlowType] | None
    currencies: frozenset[str] | None
    amount: AmountBand
    channels: frozenset[str] | None
    payee: PayeeStatus | None
    requirement: Requirement


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """A fraud signal that, when it fires, adds controls to whatever tier the order is in."""

    id: str
    path: str
    signal: str  # a name in predicates.SIGNALS
    params: Mapping[str, object]
    requirement: Requirement


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A validated policy file; `hash` is the SHA-256 of its bytes as loaded."""

    name: str
    schema: int
    hash: str
    timezone: str
    tiers: tuple[Tier, ...]
    escalations: tuple[Escalation, ...]
    unmatched: Requirement
    version: int = 0  # the store's version number once installed (0: not installed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What the policy requires of one order, and why."""

    policy_name: str
    policy_version: int
    policy_hash: str
    rule: str  # "tier[2] 'large-supplier'" or "unmatched"
    requirement: Requirement
    reasons: tuple[str, ...]
    signals: tuple[str, ...] = field(default=())  # escalation ids that fired

    @property
    def is_straight_through(self) -> bool:
        """True when the order may go straight to `released`."""
        return self.requirement.is_straight_through

    def explain(self) -> str:
        """Which rule applied and why, in a few lines a treasurer can read."""
        lines = [f"policy {self.policy_name!r} version {self.policy_version} "
                 f"(sha256 {self.policy_hash[:12]}…)",
                 f"rule: {self.rule}",
                 f"requires: {self.requirement.describe()}"]
        lines += [f"  because {reason}" for reason in self.reasons]
        return "\n".join(lines)
