"""Claim categories and the approval chain, as data (services/data/claims.toml).

The chain of a claim: the department manager always; then finance when a line's category
asks for it, when the claim is large, or when the department is listed; then as many more
finance approvals as the payment policy (issue 5) requires of the claim's payment.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Final

from bankgate.domain.claims import Claim
from bankgate.errors import ConfigError

__all__ = ["ClaimRules", "Step", "load_claim_rules"]

_BUILTIN: Final = "claims.toml"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an approval chain: its name and the roles that may take it."""

    name: str
    roles: frozenset[str]
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimRules:
    """Categories (code → Chinese name), which need finance, and the chain's roles."""

    categories: Mapping[str, str]
    finance_categories: frozenset[str]
    manager_roles: frozenset[str]
    finance_roles: frozenset[str]
    finance_from: Mapping[str, Decimal]
    finance_departments: frozenset[str]

    def chain(self, claim: Claim, *, policy_approvals: int = 0) -> tuple[Step, ...]:
        """The steps `claim` must pass, each with why it is there."""
        steps = [Step("manager", self.manager_roles, f"every claim: the {claim.department} "
                                                     "manager approves")]
        why = self._finance_reason(claim)
        if why:
            steps.append(Step("finance", self.finance_roles, why))
        for extra in range(max(0, policy_approvals - (len(steps) - 1))):
            steps.append(Step(f"policy-{extra + 1}", self.finance_roles,
                              "the payment policy requires another approval"))
        return tuple(steps)

    def _finance_reason(self, claim: Claim) -> str | None:
        reviewed = sorted({line.category for line in claim.lines} & self.finance_categories)
        if reviewed:
            names = ", ".join(f"{self.categories[c]} ({c})" for c in reviewed)
            return f"category {names} is always reviewed by finance"
        floor = self.finance_from.get(claim.total.currency.code)
        if floor is not None and claim.total.amount >= floor:
            return f"the claim totals {claim.total}, at least {floor} {claim.total.currency}"
        if claim.department in self.finance_departments:
            return f"department {claim.department} is always reviewed by finance"
        return None


def load_claim_rules(path: Path | None = None) -> ClaimRules:
    """The rules in `path`, or the built-in ones; ConfigError naming the key at fault."""
    origin = str(path) if path else f"builtin {_BUILTIN}"
    try:
        text = path.read_text(encoding="utf-8") if path else \
            resources.files("bankgate.services").joinpath("data", _BUILTIN).read_text("utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{origin}: cannot read the claim rules: {exc}") from exc
    return _rules(data, origin)


def _rules(data: Mapping[str, Any], origin: str) -> ClaimRules:
    categories, chain = data.get("categories"), data.get("chain")
    if not isinstance(categories, dict) or not categories or not isinstance(chain, dict):
        raise ConfigError(f"{origin}: needs a [categories] table and a [chain] table")
    names: dict[str, str] = {}
    finance: set[str] = set()
    for code, spec in categories.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigError(f"{origin}: categories.{code}: needs name = \"...\"")
        names[code] = spec["name"]
        if spec.get("finance_review") is True:
            finance.add(code)
    return ClaimRules(categories=names, finance_categories=frozenset(finance),
                      manager_roles=_roles(chain, "manager_roles", origin),
                      finance_roles=_roles(chain, "finance_roles", origin),
                      finance_from=_amounts(chain.get("finance_from", {}), origin),
                      finance_departments=frozenset(chain.get("finance_departments", [])))


def _roles(chain: Mapping[str, Any], key: str, origin: str) -> frozenset[str]:
    value = chain.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{origin}: chain.{key}: expected a non-empty list of roles")
    return frozenset(value)


def _amounts(raw: Any, origin: str) -> dict[str, Decimal]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: chain.finance_from: expected {{ CNY = \"5000.00\" }}")
    found: dict[str, Decimal] = {}
    for code, text in raw.items():
        try:
            found[code] = Decimal(text) if isinstance(text, str) else Decimal("NaN")
        except InvalidOperation:
            found[code] = Decimal("NaN")
        if not found[code].is_finite():
            raise ConfigError(f"{origin}: chain.finance_from.{code}: {text!r} is not a "
                              "decimal string")
    return found
