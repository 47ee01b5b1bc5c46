"""Approvals under the policy, and every attack on them refused, audited, nothing changed.

A-05, A-06, A-07, A-08, A-10, K-04 and the INV-4 checker, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bankgate.crypto.signer import Algorithm
from bankgate.crypto.software import SoftwareSigner, generate_private_key
from bankgate.domain import Status
from bankgate.domain.approvals import canonical_order_bytes
from bankgate.errors import (
    AuthenticationFailed,
    DutyConflict,
    PermissionDenied,
    PolicyError,
    ReplayRefused,
    SignatureInvalid,
)
from bankgate.policy import account_fingerprint, builtin_policy_text
from bankgate.services.approvals import NotPending, approve, reject, release
from bankgate.services.controls_check import check_controls
from bankgate.services.edits import edit_order
from bankgate.services.policies import activate_policy, propose_policy
from bankgate.services.users import (
    confirm_totp,
    enrol_totp,
    register_signing_key,
    reset_totp,
)
from bankgate.store.sealed import cipher_of
from bankgate.store.tables_control import approvals as approvals_table
from bankgate.store.tables_control import users
from tests.builders import TODAY
from tests.control_world import Person, World, control_world


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    built = control_world(store_url, tmp_path)
    yield built
    built.app.close()


def _approve(world: World, person: Person, *order_ids: str, code: str | None = None,
             **kw):  # type: ignore[no-untyped-def]
    return approve(uow=world.app.uow, sealer=world.app.sealer, order_ids=list(order_ids),
                   user=person.user, code=code if code is not None else person.code(),
                   now=world.clock, **kw)


def _release(world: World, person: Person, *order_ids: str, code: str | None = None):  # type: ignore[no-untyped-def]
    return release(uow=world.app.uow, sealer=world.app.sealer, order_ids=list(order_ids),
                   user=person.user, code=code if code is not None else person.code(),
                   now=world.clock)


def _unchanged(world: World, before) -> None:  # type: ignore[no-untyped-def]
    after = world.get(before.id)
    assert (after.status, after.version, after.amount) == (before.status, before.version,
                                                          before.amount)


def test_small_orders_go_straight_through_and_others_wait_for_approval(world: World) -> None:
    small, medium = world.orders("999.99", "1000.00")
    assert small.status is Status.RELEASED
    assert medium.status is Status.PENDING_APPROVAL
    assert "order.transition" in world.audit(medium.id)


def test_one_approval_with_a_fresh_code_releases_a_medium_order(world: World) -> None:
    anna = world.person("anna", "approver")
    order = world.order("5000.00")
    [done] = _approve(world, anna, order.id)
    assert done.status is Status.RELEASED
    assert "order.approve" in world.audit(order.id)
    assert check_controls(uow=world.app.uow) == []


def test_a_large_order_needs_two_people_then_a_releaser(world: World) -> None:
    anna, bo = world.person("anna", "approver"), world.person("bo", "approver")
    rex = world.person("rex", "releaser")
    order = world.order("20000.00")
    assert _approve(world, anna, order.id)[0].status is Status.PENDING_APPROVAL
    assert _approve(world, bo, order.id)[0].status is Status.APPROVED
    assert _release(world, rex, order.id)[0].status is Status.RELEASED
    assert check_controls(uow=world.app.uow) == []


def test_a05_the_maker_cannot_approve_their_own_order(world: World) -> None:
    mia = world.person("mia", "maker", "approver")
    order = world.order("5000.00", maker=mia)
    with pytest.raises(DutyConflict, match="made it and may not approve"):
        _approve(world, mia, order.id)
    _unchanged(world, order)
    assert "approve.refused" in world.audit(order.id)


def test_a05_one_person_cannot_give_both_approvals(world: World) -> None:
    anna = world.person("anna", "approver")
    order = world.order("20000.00")
    first = _approve(world, anna, order.id)[0]
    world.clock.tick()
    with pytest.raises(DutyConflict, match="already approved"):
        _approve(world, anna, order.id)
    _unchanged(world, first)
    assert "approve.refused" in world.audit(order.id)


def test_a05_nobody_approves_a_payment_to_their_own_account(world: World) -> None:
    anna = world.person("anna", "approver", own_accounts=["6222020200009000001"])
    order = world.order("5000.00", payee_account="6222020200009000001")
    with pytest.raises(DutyConflict, match="their own account"):
        _approve(world, anna, order.id)
    _unchanged(world, order)
    assert "approve.refused" in world.audit(order.id)


def test_a05_inv7_own_accounts_are_stored_as_keyed_tags_not_unkeyed_hashes(
        world: World) -> None:
    """users.own_accounts holds the store's keyed tag of the number, never the number nor
    the invertible SHA-256 fingerprint; the release check compares tags too."""
    number = "6222 0202 0000 9000 001"
    anna = world.person("anna", "approver", "releaser", own_accounts=[number])
    with world.app.engine.connect() as conn:
        stored = conn.execute(select(users.c.own_accounts)
                              .where(users.c.username == "anna")).scalar_one()
    tag = cipher_of(world.app.engine).tag("6222020200009000001")
    assert json.loads(stored) == [tag] and len(tag) == 32
    assert account_fingerprint(number) not in stored and "6222020200009000001" not in stored
    bo, cy = world.person("bo", "approver"), world.person("cy", "approver")
    order = world.order("20000.00", payee_account="6222020200009000001")
    _approve(world, bo, order.id)
    world.clock.tick()
    assert _approve(world, cy, order.id)[0].status is Status.APPROVED
    with pytest.raises(DutyConflict, match="their own account"):
        _release(world, anna, order.id)


def test_a05_a_user_saved_before_0014_with_a_legacy_fingerprint_is_still_refused(
        world: World) -> None:
    """Migration 0014 cannot turn fingerprints into tags (no numbers to tag); they keep
    counting until the user's own accounts are entered again (docs/security.md)."""
    anna = world.person("anna", "approver")
    with world.app.engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == "anna").values(
            own_accounts=json.dumps([account_fingerprint("6222020200009000001")])))
    with world.app.uow() as unit:
        legacy = unit.control.user(anna.user.id)
    order = world.order("5000.00", payee_account="6222020200009000001")
    with pytest.raises(DutyConflict, match="their own account"):
        approve(uow=world.app.uow, sealer=world.app.sealer, order_ids=[order.id], user=legacy,
                code=anna.code(), now=world.clock)


def test_a06_editing_an_approved_order_voids_its_approvals_and_sends_it_back(
        world: World) -> None:
    anna, bo = world.person("anna", "approver"), world.person("bo", "approver")
    rex = world.person("rex", "releaser")
    order = world.order("20000.00")
    _approve(world, anna, order.id)
    world.clock.tick()
    assert _approve(world, bo, order.id)[0].status is Status.APPROVED
    edited = edit_order(uow=world.app.uow, order_id=order.id, changes={"amount": "20000.01"},
                        actor="client:erp", now=world.clock, today=TODAY)
    assert edited.status is Status.PENDING_APPROVAL
    with world.app.uow() as unit:
        assert unit.control.approvals_for(order.id) == []
        assert len(unit.control.approvals_for(order.id, live_only=False)) == 2
    with pytest.raises(NotPending):
        _release(world, rex, order.id)
    assert "order.edited" in world.audit(order.id)


@pytest.mark.parametrize("change", [{"payee_account": "6222020200009000002"},
                                    {"payee_name": "别的公司"},
                                    {"execution_date": (TODAY + timedelta(days=1)).isoformat()}])
def test_a06_any_change_of_payee_or_date_voids_the_approval_already_given(
        world: World, change: dict[str, str]) -> None:
    anna = world.person("anna", "approver")
    order = world.order("20000.00")
    _approve(world, anna, order.id)
    edit_order(uow=world.app.uow, order_id=order.id, changes=change, actor="client:erp",
               now=world.clock, today=TODAY)
    with world.app.uow() as unit:
        assert unit.control.approvals_for(order.id) == []


def test_a06_a_released_order_cannot_be_edited(world: World) -> None:
    order = world.order("10.00")
    with pytest.raises(NotPending, match="only orders not yet released"):
        edit_order(uow=world.app.uow, order_id=order.id, changes={"amount": "9.00"},
                   actor="client:erp", now=world.clock, today=TODAY)
    _unchanged(world, order)


def test_a07_release_with_too_few_approvals_or_of_a_cancelled_order_is_refused(
        world: World) -> None:
    anna = world.person("anna", "approver")
    rex = world.person("rex", "releaser")
    order = world.order("20000.00")
    _approve(world, anna, order.id)
    waiting = world.get(order.id)
    with pytest.raises(NotPending, match="is pending_approval, not approved"):
        _release(world, rex, order.id)
    _unchanged(world, waiting)
    reject(uow=world.app.uow, order_id=order.id, user=anna.user, reason="duplicate invoice",
           now=world.clock)
    world.clock.tick()
    with pytest.raises(NotPending, match="is cancelled"):
        _release(world, rex, order.id)
    assert world.audit(order.id).count("release.refused") == 2


def test_a07_an_approver_who_is_not_a_releaser_cannot_release(world: World) -> None:
    anna, bo = world.person("anna", "approver"), world.person("bo", "approver")
    order = world.order("20000.00")
    _approve(world, anna, order.id)
    world.clock.tick()
    approved = _approve(world, bo, order.id)[0]
    world.clock.tick()
    with pytest.raises(DutyConflict, match="releaser role"):
        _release(world, anna, order.id)
    _unchanged(world, approved)


def test_a10_a_wrong_code_is_refused_counted_and_five_lock_the_factor(world: World) -> None:
    anna = world.person("anna", "approver")
    order = world.order("5000.00")
    for attempt in range(5):
        with pytest.raises(AuthenticationFailed):
            _approve(world, anna, order.id, code=f"{attempt:06d}" if attempt else "12345x")
    with pytest.raises(AuthenticationFailed, match="locked"):
        _approve(world, anna, order.id)  # even the right code, once locked
    _unchanged(world, order)
    actions = world.audit(order.id)
    assert actions.count("approve.refused") == 6
    with world.app.uow() as unit:
        assert unit.audit.count("totp.failed") == 5


def test_a10_k04_a_code_counts_once_even_for_another_order(world: World) -> None:
    anna = world.person("anna", "approver")
    first, second = world.orders("5000.00", "6000.00")
    code = anna.code()
    _approve(world, anna, first.id, code=code)
    with pytest.raises(ReplayRefused, match="already used"):
        _approve(world, anna, second.id, code=code)
    _unchanged(world, second)
    world.clock.tick()
    assert _approve(world, anna, second.id)[0].status is Status.RELEASED


def test_k04_a_retry_with_the_same_code_yields_at_most_one_approval(world: World) -> None:
    anna = world.person("anna", "approver")
    order = world.order("20000.00")
    code = anna.code()
    _approve(world, anna, order.id, code=code)
    with pytest.raises((ReplayRefused, DutyConflict)):
        _approve(world, anna, order.id, code=code)
    with world.app.uow() as unit:
        assert len(unit.control.approvals_for(order.id)) == 1


def test_a10_a_code_from_before_re_enrolment_is_refused(world: World) -> None:
    anna = world.person("anna", "approver")
    old_totp = anna.totp
    with pytest.raises(PermissionDenied, match="already has a TOTP factor"):
        enrol_totp(uow=world.app.uow, sealer=world.app.sealer, user_id=anna.user.id,
                   now=world.clock)  # a session alone never replaces the second factor
    assert reset_totp(uow=world.app.uow, username="anna", actor="test:admin",
                      now=world.clock) == 1
    credential, uri = enrol_totp(uow=world.app.uow, sealer=world.app.sealer,
                                 user_id=anna.user.id, now=world.clock)
    import pyotp

    new_totp = pyotp.parse_uri(uri)
    confirm_totp(uow=world.app.uow, sealer=world.app.sealer, user_id=anna.user.id,
                 credential_id=credential,
                 code=new_totp.at(world.clock() - timedelta(seconds=30)), now=world.clock)
    order = world.order("5000.00")
    with pytest.raises(AuthenticationFailed, match="wrong"):
        _approve(world, anna, order.id, code=old_totp.at(world.clock()))
    _unchanged(world, order)
    anna.totp = new_totp
    assert _approve(world, anna, order.id)[0].status is Status.RELEASED


def test_the_highest_tier_needs_a_token_signature_over_the_canonical_order(
        world: World) -> None:
    """Software ECDSA key standing in for the token (SoftHSM2 has the same interface)."""
    anna, bo = world.person("anna", "approver"), world.person("bo", "approver")
    keys = {}
    for person in (anna, bo):
        key = generate_private_key(Algorithm.ECDSA_P256_SHA256)
        keys[person.user.username] = SoftwareSigner.from_key(key)
        from cryptography.hazmat.primitives import serialization

        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        register_signing_key(uow=world.app.uow, user_id=person.user.id,
                             public_key_pem=pem.decode(), algorithm="ECDSA-P256-SHA256",
                             actor="test:admin", now=world.clock)
    order = world.order("1000000.00")
    with pytest.raises(SignatureInvalid, match="needs a token signature"):
        _approve(world, anna, order.id)
    world.clock.tick()
    forged = keys["bo"].sign(canonical_order_bytes(order))  # bo's key, presented by anna
    with pytest.raises(SignatureInvalid, match="does not verify"):
        _approve(world, anna, order.id, signatures={order.id: forged})
    world.clock.tick()
    good = keys["anna"].sign(canonical_order_bytes(order))
    assert _approve(world, anna, order.id, signatures={order.id: good})[0].status is \
        Status.PENDING_APPROVAL


def test_a08_policy_changes_need_a_second_treasurer_admin_and_loosening_spares_no_order(
        world: World) -> None:
    tom = world.person("tom", "treasurer_admin")
    ada = world.person("ada", "treasurer_admin", "approver")
    anna = world.person("anna", "approver")
    order = world.order("5000.00")
    loose = builtin_policy_text("straight-through")
    with pytest.raises(PermissionDenied, match="treasurer_admin only"):
        propose_policy(uow=world.app.uow, content=loose, origin="x", by=anna.user,
                       now=world.clock)
    version = propose_policy(uow=world.app.uow, content=loose, origin="x", by=ada.user,
                             now=world.clock)
    with pytest.raises(DutyConflict, match="proposed it and may not activate"):
        activate_policy(uow=world.app.uow, version=version, by=ada.user, now=world.clock)
    activate_policy(uow=world.app.uow, version=version, by=tom.user, now=world.clock)
    # the order decided under the stricter policy still needs its step-up
    with pytest.raises(AuthenticationFailed, match="required"):
        _approve(world, anna, order.id, code="")
    assert world.order("5000.00").status is Status.RELEASED  # new orders: the new policy


def test_a_bad_policy_file_is_refused_and_the_policy_in_force_stays(world: World) -> None:
    tom = world.person("tom", "treasurer_admin")
    with pytest.raises(PolicyError, match=r"tier\[0\]\.amount_below"):
        propose_policy(uow=world.app.uow, content=b'schema = 1\nname = "x"\n[unmatched]\n'
                       b'approvals = 0\n[[tier]]\nid = "t"\ncurrencies = ["CNY"]\n'
                       b"amount_below = 5.5\nrequire = {approvals = 0}\n",
                       origin="bad.toml", by=tom.user, now=world.clock)
    assert world.order("5000.00").status is Status.PENDING_APPROVAL
    with world.app.uow() as unit:
        assert unit.audit.count("policy.refused") == 1


def test_inv4_the_checker_finds_an_approval_that_no_longer_matches_its_order(
        world: World) -> None:
    anna = world.person("anna", "approver")
    order = world.order("5000.00")
    _approve(world, anna, order.id)
    assert check_controls(uow=world.app.uow) == []
    with world.app.engine.begin() as conn:
        conn.execute(update(approvals_table).values(order_hash="0" * 64))
    assert check_controls(uow=world.app.uow) == [f"{order.id}: 0 bound approvals of 1 required"]


def test_rejecting_cancels_the_order_and_voids_its_approvals(world: World) -> None:
    anna, bo = world.person("anna", "approver"), world.person("bo", "approver")
    order = world.order("20000.00")
    _approve(world, anna, order.id)
    cancelled = reject(uow=world.app.uow, order_id=order.id, user=bo.user, reason="no PO",
                       now=world.clock)
    assert cancelled.status is Status.CANCELLED and cancelled.reason == "no PO"
    with world.app.uow() as unit:
        assert unit.control.approvals_for(order.id) == []
    assert replace(cancelled).status is Status.CANCELLED


def test_facts_for_a_whole_file_equal_the_facts_for_each_order(world: World) -> None:
    """The grouped queries of a file import agree with the one-order queries."""
    from bankgate.services.policies import facts_for, facts_for_many

    anna = world.person("anna", "approver")
    earlier = world.orders("500.00", "600.00", payee_account="6222020200009000001")
    world.orders("700.00", payee_account="6222020200009000002", payee_name="另一家公司")
    for order in world.orders("5000.00", payee_account="6222020200009000003"):
        _approve(world, anna, order.id)
    fresh = world.orders("800.00", "900.00", "5000.00", payee_account="6222020200009000001")
    fresh += world.orders("100.00", payee_account="6222020200009000002")
    with world.app.uow() as unit:
        many = facts_for_many(unit, fresh, at=world.clock())
        for order in fresh:
            assert many[order.id] == facts_for(unit, order, at=world.clock()), order.amount
    # the other small orders of the same file went straight through: history too, not itself
    assert sorted(many[fresh[0].id].payee_history) == [
        earlier[0].amount.amount, earlier[1].amount.amount, fresh[1].amount.amount]
    assert many[fresh[3].id].names_for_account == {"另一家公司"} - {fresh[3].payee.name}


def test_inv5_the_audit_chain_holds_every_approval_and_refusal(world: World) -> None:
    """Approvals, refusals (each in its own transaction) and counters: the chain verifies."""
    from bankgate.services.audit import verify_chain

    anna, mia = world.person("anna", "approver"), world.person("mia", "maker", "approver")
    mine = world.order("5000.00", maker=mia)
    with pytest.raises(DutyConflict):
        _approve(world, mia, mine.id)
    with pytest.raises(AuthenticationFailed):
        _approve(world, anna, mine.id, code="000000")
    _approve(world, anna, mine.id)
    report = verify_chain(uow=world.app.uow)
    assert report.broken is None and report.checked > 10
    with world.app.uow() as unit:
        assert unit.audit.count("approve.refused") == 2
        assert unit.audit.count("totp.failed") == 1
