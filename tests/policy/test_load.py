"""Loading a policy file: every mistake refused with its path; the shipped ones load."""

from __future__ import annotations

import hashlib

import pytest

from bankgate.errors import PolicyError
from bankgate.policy import BUILTIN, builtin_policy, builtin_policy_text, load_policy
from bankgate.policy.model import Release, Role
from tests.policy.builders import MINIMAL

TIER = """
[[tier]]
id = "{id}"
flows = ["supplier"]
currencies = ["CNY"]
{band}
require = {{ approvals = 1, roles = ["approver"] }}
"""


def _load(text: str | bytes):  # type: ignore[no-untyped-def]
    data = text.encode() if isinstance(text, str) else text
    return load_policy(data, origin="p.toml")


@pytest.mark.parametrize("name", BUILTIN)
def test_each_shipped_policy_loads(name: str) -> None:
    policy = builtin_policy(name)
    assert policy.name == name
    assert policy.hash == hashlib.sha256(builtin_policy_text(name)).hexdigest()


def test_the_policy_hash_is_the_sha256_of_the_file_bytes() -> None:
    assert _load(MINIMAL).hash == hashlib.sha256(MINIMAL).hexdigest()
    assert _load(MINIMAL + b"\n# a comment").hash != _load(MINIMAL).hash


def test_a_requirement_reads_every_control() -> None:
    policy = _load(MINIMAL.decode().replace(
        'roles = ["approver"]', 'roles = ["approver", "treasurer_admin"]\nstep_up = true\n'
        'token_signature = true\nbank_confirmation = true\nrelease = "releaser"'))
    need = policy.unmatched
    assert need.roles == {Role.APPROVER, Role.TREASURER_ADMIN}
    assert need.step_up and need.token_signature and need.bank_confirmation
    assert need.release is Release.RELEASER
    assert not need.is_straight_through


BAD = {
    "unknown top-level key": (MINIMAL.decode() + 'colour = "red"\n', "colour: unknown key"),
    "unknown key in a requirement": (
        MINIMAL.decode().replace("approvals = 1", "aprovals = 1"), "unmatched.aprovals"),
    "unknown key in a tier": (
        MINIMAL.decode() + TIER.format(id="t", band='amount_below = "10"') + "colour = 1\n",
        "tier[0].colour: unknown key"),
    "float threshold": (MINIMAL.decode() + TIER.format(id="t", band="amount_below = 50000.5"),
                        "tier[0].amount_below: 50000.5 is a float"),
    "integer threshold": (MINIMAL.decode() + TIER.format(id="t", band="amount_below = 50000"),
                          "tier[0].amount_below: 50000 is a int"),
    "exponent threshold": (MINIMAL.decode() + TIER.format(id="t", band='amount_below = "5e4"'),
                           "tier[0].amount_below: '5e4' is not a plain"),
    "threshold that is not a number": (
        MINIMAL.decode() + TIER.format(id="t", band='amount_below = "lots"'),
        "tier[0].amount_below: 'lots' is not a decimal"),
    "tier without approvers": (
        MINIMAL.decode().replace('roles = ["approver"]', ""),
        "unmatched.roles: 1 approval(s) required but no role"),
    "overlapping tiers": (
        MINIMAL.decode() + TIER.format(id="a", band='amount_below = "50000.00"')
        + TIER.format(id="b", band='amount_at_least = "10000.00"'),
        "tier[1]: tier 'b' overlaps tier[0] 'a'"),
    "empty band": (MINIMAL.decode() + TIER.format(
        id="t", band='amount_at_least = "10"\namount_below = "10"'),
        "tier[0].amount_below: 10 is not above"),
    "band without a currency": (
        MINIMAL.decode() + TIER.format(id="t", band='amount_below = "10"').replace(
            'currencies = ["CNY"]\n', ""), "tier[0].currencies: an amount band needs"),
    "unknown role": (MINIMAL.decode().replace('"approver"', '"boss"'),
                     "unmatched.roles: 'boss' is not one of"),
    "unknown flow": (MINIMAL.decode() + TIER.format(id="t", band="").replace(
        '"supplier"', '"bribes"'), "tier[0].flows: 'bribes'"),
    "unknown signal": (MINIMAL.decode() + '[[escalation]]\nid = "x"\nsignal = "vibes"\n'
                       "require = { approvals = 1, roles = [\"approver\"] }\n",
                       "escalation[0].signal: 'vibes' is not one of"),
    "signal without its limit": (
        MINIMAL.decode() + '[[escalation]]\nid = "x"\nsignal = "daily_limit_payee"\n'
        "require = { approvals = 1, roles = [\"approver\"] }\n",
        "escalation[0].params.limit: is required"),
    "duplicate tier id": (
        MINIMAL.decode() + TIER.format(id="a", band='amount_below = "10.00"')
        + TIER.format(id="a", band='amount_at_least = "10.00"'), "tier[1].id: 'a' is used twice"),
    "wrong schema": (MINIMAL.decode().replace("schema = 1", "schema = 2"),
                     "schema: must be 1"),
    "no unmatched requirement": ('schema = 1\nname = "x"\n', "unmatched: is required"),
    "bad time zone": (MINIMAL.decode().replace('name = "test"',
                                               'name = "test"\ntimezone = "Mars/Base"'),
                      "timezone: 'Mars/Base'"),
    "not TOML": ("schema = = 1", "not valid TOML"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_policy_file_is_refused_naming_the_path(case: str) -> None:
    text, expected = BAD[case]
    with pytest.raises(PolicyError) as err:
        _load(text)
    message = str(err.value)
    assert message.startswith("p.toml: ")
    assert expected in message, message
    assert "\n" not in message


def test_adjacent_bands_do_not_overlap() -> None:
    text = (MINIMAL.decode() + TIER.format(id="a", band='amount_below = "50000.00"')
            + TIER.format(id="b", band='amount_at_least = "50000.00"'))
    assert [t.id for t in _load(text).tiers] == ["a", "b"]


def test_tiers_apart_by_flow_or_payee_do_not_overlap() -> None:
    text = (MINIMAL.decode() + TIER.format(id="a", band='payee = "new"')
            + TIER.format(id="b", band='payee = "known"')
            + TIER.format(id="c", band="").replace('"supplier"', '"payroll"'))
    assert len(_load(text).tiers) == 3
