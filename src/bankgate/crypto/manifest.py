"""Batch signing as EBICS does it: one signature over a manifest of every order's hash.

Signing 10,000 orders one by one on a token costs seconds to minutes (docs/benchmarks.md);
a manifest lists each order's id and canonical hash, and one signature over the manifest's
canonical bytes covers them all. Checking a manifest verifies the signature and then that it
lists exactly the expected orders with exactly their current hashes: an order edited after
signing, added to or dropped from the batch is refused, naming the order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from bankgate.crypto.digest import DigestAlgorithm, canonical_bytes
from bankgate.crypto.signer import Algorithm, Signer, Verifier
from bankgate.errors import SignatureInvalid

__all__ = ["MANIFEST_VERSION", "SignedManifest", "build_manifest", "check_manifest",
           "sign_manifest"]

MANIFEST_VERSION = "bankgate-manifest/1"


def build_manifest(batch_id: str, order_hashes: Mapping[str, str], *,
                   digest: DigestAlgorithm = DigestAlgorithm.SHA256) -> bytes:
    """The canonical manifest bytes for a batch: version, batch id, digest, orders by id."""
    if not order_hashes:
        raise ValueError(f"batch {batch_id}: a manifest needs at least one order")
    for order_id, value in order_hashes.items():
        if len(value) != 64 or value.strip("0123456789abcdef"):
            raise ValueError(f"batch {batch_id}, order {order_id}: {value!r} is not a "
                             "64-digit lower-case hex digest")
    return canonical_bytes({"version": MANIFEST_VERSION, "batch_id": batch_id,
                            "digest": str(digest),
                            "orders": [[k, order_hashes[k]] for k in sorted(order_hashes)]})


@dataclass(frozen=True, slots=True)
class SignedManifest:
    """A manifest and the one signature over it."""

    manifest: bytes
    signature: bytes
    key_id: str
    algorithm: Algorithm


def sign_manifest(signer: Signer, manifest: bytes) -> SignedManifest:
    """Sign the manifest once; nothing is returned unless the whole signature is made."""
    signature = signer.sign(manifest)
    return SignedManifest(manifest, signature, signer.key_id, signer.algorithm)


def check_manifest(signed: SignedManifest, verifier: Verifier, *, batch_id: str,
                   order_hashes: Mapping[str, str]) -> None:
    """Verify the signature and that the manifest lists exactly these orders and hashes.

    Raises:
        SignatureInvalid: a bad signature, another key or batch, or an order missing, added
            or changed since signing (named).
    """
    if signed.key_id != verifier.key_id or signed.algorithm != verifier.algorithm:
        raise SignatureInvalid(f"batch {batch_id}: manifest signed by key "
                               f"{signed.key_id[:16]} ({signed.algorithm}), not by the "
                               f"expected {verifier.key_id[:16]} ({verifier.algorithm})")
    verifier.verify(signed.manifest, signed.signature)
    document = json.loads(signed.manifest)
    if document.get("version") != MANIFEST_VERSION or document.get("batch_id") != batch_id:
        raise SignatureInvalid(f"batch {batch_id}: the manifest is for "
                               f"{document.get('batch_id')!r} ({document.get('version')})")
    listed = dict(document["orders"])
    for order_id in sorted(set(listed) | set(order_hashes)):
        if order_id not in listed:
            raise SignatureInvalid(f"batch {batch_id}: order {order_id} is not in the "
                                   "signed manifest")
        if order_id not in order_hashes:
            raise SignatureInvalid(f"batch {batch_id}: the signed manifest lists order "
                                   f"{order_id}, which is not in the batch")
        if listed[order_id] != order_hashes[order_id]:
            raise SignatureInvalid(f"batch {batch_id}: order {order_id} changed since the "
                                   "manifest was signed")
