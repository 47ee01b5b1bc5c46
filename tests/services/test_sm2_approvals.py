"""Issue 5: "for the highest tiers the token signature is the binding proof", and SM2 keys sit
behind the same signer interface — an approver's SM2-SM3 (国密) key registers and its
signature over the canonical order approves it; a signature of another key, or over an
edited order, does not (A-06)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bankgate.crypto.sm import Sm2Signer, generate_sm2_key
from bankgate.domain import Status
from bankgate.domain.approvals import canonical_order_bytes
from bankgate.errors import DomainError, SignatureInvalid
from bankgate.services.approvals import approve
from bankgate.services.users import register_signing_key
from tests.control_world import Person, World, control_world


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    built = control_world(store_url, tmp_path)
    yield built
    built.app.close()


def _sm2_approver(world: World, name: str) -> tuple[Person, Sm2Signer]:
    person = world.person(name, "approver")
    signer = Sm2Signer(generate_sm2_key())
    register_signing_key(uow=world.app.uow, user_id=person.user.id,
                         public_key_pem=signer.public_pem().decode(), algorithm="SM2-SM3",
                         actor="test:admin", now=world.clock)
    return person, signer


def _approve(world: World, person: Person, order_id: str, signature: bytes | None):
    world.clock.tick()
    return approve(uow=world.app.uow, sealer=world.app.sealer, order_ids=[order_id],
                   user=person.user, code=person.code(), now=world.clock,
                   signatures={order_id: signature} if signature else None)


def test_an_sm2_key_signs_the_approval_of_the_highest_tier_and_is_verified(
        world: World) -> None:
    anna, anna_key = _sm2_approver(world, "anna")
    _, bo_key = _sm2_approver(world, "bo")
    order = world.order("1000000.00")  # tier "huge": token signature required
    with pytest.raises(SignatureInvalid, match="does not verify"):
        _approve(world, anna, order.id, bo_key.sign(canonical_order_bytes(order)))
    edited = replace(order, execution_date=order.execution_date + timedelta(days=1))
    with pytest.raises(SignatureInvalid, match="does not verify"):
        _approve(world, anna, order.id, anna_key.sign(canonical_order_bytes(edited)))
    assert world.get(order.id).status is Status.PENDING_APPROVAL
    [done] = _approve(world, anna, order.id, anna_key.sign(canonical_order_bytes(order)))
    assert done.status is Status.PENDING_APPROVAL  # one of two approvals given
    with world.app.uow() as unit:
        [approval] = unit.control.approvals_for(order.id)
    assert approval.signature is not None and approval.key_id is not None
    assert approval.key_id.startswith("k-")


def test_a_key_that_is_not_of_its_algorithm_is_refused_at_registration(world: World) -> None:
    anna = world.person("anna", "approver")
    sm2_pem = Sm2Signer(generate_sm2_key()).public_pem().decode()
    with pytest.raises(DomainError, match="signing key: not a ECDSA-P256-SHA256 public key"):
        register_signing_key(uow=world.app.uow, user_id=anna.user.id, public_key_pem=sm2_pem,
                             algorithm="ECDSA-P256-SHA256", actor="test:admin", now=world.clock)
    with pytest.raises(DomainError, match="'DSA' is not one of RSA-SHA256"):
        register_signing_key(uow=world.app.uow, user_id=anna.user.id, public_key_pem=sm2_pem,
                             algorithm="DSA", actor="test:admin", now=world.clock)
