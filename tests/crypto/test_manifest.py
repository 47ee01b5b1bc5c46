"""EBICS-style batch signing: one token signature over every order's canonical hash."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bankgate.crypto.digest import canonical_hash
from bankgate.crypto.manifest import build_manifest, check_manifest, sign_manifest
from bankgate.crypto.pin import PinGuard
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.software import SoftwareSigner, SoftwareVerifier, generate_private_key
from bankgate.crypto.token import open_token
from bankgate.errors import SignatureInvalid
from bankgate.store import make_engine
from bankgate.store.security import SqlPinCounterStore
from tests.crypto.conftest import USER_PIN, SoftHsm


def _hashes(n: int, amount: str = "100.00") -> dict[str, str]:
    return {f"ord-{i:05d}": canonical_hash({"payee": f"payee {i}", "amount": Decimal(amount),
                                            "currency": "CNY"}) for i in range(n)}


def test_one_token_signature_covers_every_order_of_the_batch(softhsm: SoftHsm,
                                                             sqlite_url: str) -> None:
    label = softhsm.init_token()
    engine = make_engine(sqlite_url)
    guard = PinGuard(SqlPinCounterStore(engine))
    hashes = _hashes(1000)
    with open_token(softhsm.module, label, USER_PIN, guard=guard) as session:
        signer = session.generate_key("release", Algorithm.RSA_SHA256)
        signed = sign_manifest(signer, build_manifest("batch-1", hashes))
    engine.dispose()
    check_manifest(signed, SoftwareVerifier.from_key(signer.public_key), batch_id="batch-1",
                   order_hashes=hashes)


@pytest.fixture
def signed_and_verifier() -> tuple[object, SoftwareVerifier, dict[str, str]]:
    signer = SoftwareSigner.from_key(generate_private_key(Algorithm.ECDSA_P256_SHA256))
    hashes = _hashes(3)
    signed = sign_manifest(signer, build_manifest("batch-7", hashes))
    return signed, SoftwareVerifier.from_key(signer.private_key.public_key()), hashes


def test_an_order_edited_after_signing_is_named(signed_and_verifier: tuple) -> None:
    signed, verifier, hashes = signed_and_verifier
    edited = {**hashes, "ord-00001": canonical_hash({"amount": "900.00"})}
    with pytest.raises(SignatureInvalid, match="order ord-00001 changed since"):
        check_manifest(signed, verifier, batch_id="batch-7", order_hashes=edited)


def test_an_order_added_to_or_dropped_from_the_batch_is_named(
        signed_and_verifier: tuple) -> None:
    signed, verifier, hashes = signed_and_verifier
    with pytest.raises(SignatureInvalid, match="order ord-00099 is not in the signed"):
        check_manifest(signed, verifier, batch_id="batch-7",
                       order_hashes={**hashes, "ord-00099": "a" * 64})
    dropped = {k: v for k, v in hashes.items() if k != "ord-00002"}
    with pytest.raises(SignatureInvalid, match="lists order ord-00002, which is not in"):
        check_manifest(signed, verifier, batch_id="batch-7", order_hashes=dropped)


def test_a_manifest_for_another_batch_or_with_a_forged_signature_is_refused(
        signed_and_verifier: tuple) -> None:
    from dataclasses import replace

    signed, verifier, hashes = signed_and_verifier
    with pytest.raises(SignatureInvalid, match="the manifest is for 'batch-7'"):
        check_manifest(signed, verifier, batch_id="batch-8", order_hashes=hashes)
    forged = replace(signed, manifest=signed.manifest.replace(b"batch-7", b"batch-8"))
    with pytest.raises(SignatureInvalid, match="does not verify"):
        check_manifest(forged, verifier, batch_id="batch-8", order_hashes=hashes)


def test_a_manifest_needs_orders_and_real_digests() -> None:
    with pytest.raises(ValueError, match="at least one order"):
        build_manifest("b", {})
    with pytest.raises(ValueError, match="order x: 'nope'"):
        build_manifest("b", {"x": "nope"})
