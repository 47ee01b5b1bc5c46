"""Token-signature tiers approved in bulk with ONE signature over a manifest (EBICS-style).

issue 5: "sign the batch file once, as EBICS does — the signature still covers every order's
canonical hash". The manifest is checked before anything moves (L-03, A-06).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bankgate.crypto.manifest import build_manifest, sign_manifest
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.software import SoftwareSigner, generate_private_key
from bankgate.domain import Status
from bankgate.domain.approvals import order_hash
from bankgate.errors import SignatureInvalid
from bankgate.services.approvals import approve
from bankgate.services.users import register_signing_key
from tests.control_world import Person, World, control_world

BIG = "1000000.00"  # the control world's token-signature tier


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    built = control_world(store_url, tmp_path)
    yield built
    built.app.close()


def _signer(world: World, person: Person) -> SoftwareSigner:
    key = generate_private_key(Algorithm.ECDSA_P256_SHA256)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    register_signing_key(uow=world.app.uow, user_id=person.user.id,
                         public_key_pem=pem.decode(), algorithm="ECDSA-P256-SHA256",
                         actor="test:admin", now=world.clock)
    return SoftwareSigner.from_key(key)


def _approve(world: World, person: Person, ids: list[str], **kw):  # type: ignore[no-untyped-def]
    return approve(uow=world.app.uow, sealer=world.app.sealer, order_ids=ids, user=person.user,
                   code=person.code(), now=world.clock, **kw)


def test_one_manifest_signature_approves_every_order_it_lists(world: World) -> None:
    anna = world.person("anna", "approver")
    signer = _signer(world, anna)
    orders = world.orders(BIG, BIG, BIG)
    manifest = sign_manifest(signer, build_manifest("approval-1",
                                                    {o.id: order_hash(o) for o in orders}))
    done = _approve(world, anna, [o.id for o in orders], manifest=manifest)
    assert {o.status for o in done} == {Status.PENDING_APPROVAL}  # the tier needs two people
    with world.app.uow() as unit:
        for order in orders:
            [approval] = unit.control.approvals_for(order.id)
            assert approval.signature == manifest.signature
            assert approval.order_hash == order_hash(order)
            detail = next(r["detail"] for r in unit.audit.for_subject(order.id)
                          if r["action"] == "order.approve")
            assert len(detail["manifest"]) == 64


@pytest.mark.parametrize("flaw", ["missing", "changed", "foreign_key"])
def test_a_manifest_that_does_not_cover_the_orders_exactly_is_refused_and_moves_nothing(
        world: World, flaw: str) -> None:
    """A-06: left out, changed since signing, or another person's key: refused, named."""
    anna, bo = world.person("anna", "approver"), world.person("bo", "approver")
    signer = _signer(world, bo if flaw == "foreign_key" else anna)
    orders = world.orders(BIG, BIG)
    hashes = {o.id: order_hash(o) for o in orders}
    if flaw == "missing":
        hashes.pop(orders[1].id)
    if flaw == "changed":
        hashes[orders[1].id] = "0" * 64
    manifest = sign_manifest(signer, build_manifest("approval-2", hashes))
    expected = {"missing": f"order {orders[1].id} is not in the signed manifest",
                "changed": f"order {orders[1].id} changed since",
                "foreign_key": "not signed by a signing key of"}[flaw]
    with pytest.raises(SignatureInvalid, match=expected):
        _approve(world, anna, [o.id for o in orders], manifest=manifest)
    for order in orders:
        after = world.get(order.id)
        assert (after.status, after.version) == (order.status, order.version)
        assert "approve.refused" in world.audit(order.id)
