"""Policy as data: tiers, escalations and duties; `evaluate(policy, order, facts)` decides.

Imports only the domain (and `bankgate.errors`). See docs/policy.md for the file format.
"""

from bankgate.policy.duties import Actor, account_fingerprint, check_approver, check_releaser
from bankgate.policy.evaluate import evaluate, matching_tier
from bankgate.policy.load import BUILTIN, builtin_policy, builtin_policy_text, load_policy
from bankgate.policy.model import (
    Decision,
    Duty,
    Escalation,
    PayeeStatus,
    Policy,
    Release,
    Requirement,
    Role,
    Tier,
)
from bankgate.policy.predicates import SIGNALS, Facts

__all__ = [
    "BUILTIN",
    "SIGNALS",
    "Actor",
    "Decision",
    "Duty",
    "Escalation",
    "Facts",
    "PayeeStatus",
    "Policy",
    "Release",
    "Requirement",
    "Role",
    "Tier",
    "account_fingerprint",
    "builtin_policy",
    "builtin_policy_text",
    "check_approver",
    "check_releaser",
    "evaluate",
    "load_policy",
    "matching_tier",
]
