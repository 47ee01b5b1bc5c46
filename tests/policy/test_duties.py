"""Segregation of duties (A-05): maker ≠ approver ≠ releaser, no approving one's own payment."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bankgate.errors import DutyConflict
from bankgate.policy import Actor, Requirement, Role, account_fingerprint
from bankgate.policy.duties import check_approver, check_releaser
from bankgate.policy.model import Duty
from tests.policy.builders import an_order

NEED = Requirement(approvals=2, roles=frozenset({Role.APPROVER}))
ANNA = Actor(user_id="anna", roles=frozenset({Role.APPROVER, Role.MAKER}))
REX = Actor(user_id="rex", roles=frozenset({Role.RELEASER}))


def test_an_approver_who_did_not_make_the_order_may_approve_it() -> None:
    assert check_approver(an_order(), ANNA, NEED, maker="mark", approvers=[]) is Role.APPROVER


def test_a05_the_maker_may_not_approve_their_own_order() -> None:
    with pytest.raises(DutyConflict, match="anna made it and may not approve it"):
        check_approver(an_order(), ANNA, NEED, maker="anna", approvers=[])


def test_a05_one_person_cannot_give_two_approvals() -> None:
    with pytest.raises(DutyConflict, match="has already approved it"):
        check_approver(an_order(), ANNA, NEED, maker="mark", approvers=["anna"])


def test_a05_nobody_approves_a_payment_to_their_own_account_by_its_keyed_tag() -> None:
    """The store passes the payee account's tag in; the policy compares tags, holds no key."""
    own = Actor(user_id="anna", roles=ANNA.roles, own_accounts=frozenset({"tag-of-payee"}))
    with pytest.raises(DutyConflict, match="their own account"):
        check_approver(an_order(), own, NEED, maker="mark", approvers=[],
                       payee_tag="tag-of-payee")
    with pytest.raises(DutyConflict, match="their own account"):
        check_releaser(an_order(), replace(own, roles=frozenset({Role.RELEASER})), NEED,
                       maker="mark", approvers=[], payee_tag="tag-of-payee")
    assert check_approver(an_order(), own, NEED, maker="mark", approvers=[],
                          payee_tag="tag-of-someone-else") is Role.APPROVER


def test_a05_a_legacy_fingerprint_saved_before_0014_still_counts() -> None:
    own = Actor(user_id="anna", roles=ANNA.roles,
                own_accounts=frozenset({account_fingerprint("6222 0202 0000 9000 001")}))
    with pytest.raises(DutyConflict, match="their own account"):
        check_approver(an_order(), own, NEED, maker="mark", approvers=[],
                       payee_tag="tag-of-payee")


def test_a05_nobody_approves_a_payment_to_themselves_by_name() -> None:
    payee = Actor(user_id="anna", roles=ANNA.roles, name="张安娜")
    with pytest.raises(DutyConflict, match="their own account"):
        check_approver(an_order(payee_name="张安娜"), payee, NEED, maker="mark", approvers=[])


def test_someone_without_an_approving_role_cannot_approve() -> None:
    with pytest.raises(DutyConflict, match="holds none of the roles"):
        check_approver(an_order(), REX, NEED, maker="mark", approvers=[])


def test_a_releaser_who_approved_may_not_release_where_the_duty_is_on() -> None:
    both = Actor(user_id="anna", roles=frozenset({Role.APPROVER, Role.RELEASER}))
    with pytest.raises(DutyConflict, match="approver_releaser"):
        check_releaser(an_order(), both, NEED, maker="mark", approvers=["anna"])
    relaxed = Requirement(approvals=2, roles=NEED.roles, duties=frozenset({Duty.MAKER_APPROVER}))
    check_releaser(an_order(), both, relaxed, maker="mark", approvers=["anna"])


def test_the_maker_may_not_release_and_a_non_releaser_never_may() -> None:
    maker_releaser = Actor(user_id="mark", roles=frozenset({Role.RELEASER, Role.MAKER}))
    with pytest.raises(DutyConflict, match="maker_releaser"):
        check_releaser(an_order(), maker_releaser, NEED, maker="mark", approvers=[])
    with pytest.raises(DutyConflict, match="does not hold the releaser role"):
        check_releaser(an_order(), ANNA, NEED, maker="mark", approvers=[])
