"""The one signing interface: software keys, PKCS#11 tokens and SM2 keys all look like this.

A `Signer` holds a private key (or a handle to one inside a token) and signs bytes; a
`Verifier` holds a public key or certificate and checks a signature, raising
`SignatureInvalid` when it does not hold. Callers never see which kind of key is behind it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

__all__ = ["Algorithm", "Signer", "Verifier"]


class Algorithm(StrEnum):
    """Signature algorithms bankgate speaks; the value is what goes on the wire."""

    RSA_SHA256 = "RSA-SHA256"  # PKCS#1 v1.5 over SHA-256
    ECDSA_P256_SHA256 = "ECDSA-P256-SHA256"  # DER-encoded (r, s)
    SM2_SM3 = "SM2-SM3"  # GB/T 32918 with the SM3 digest, DER-encoded (r, s)


class Signer(Protocol):
    """Signs bytes with one private key."""

    @property
    def key_id(self) -> str:
        """A stable, public name of the key (certificate serial or fingerprint)."""
        ...

    @property
    def algorithm(self) -> Algorithm:
        """The algorithm `sign` uses."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The signature over `data` (the signer hashes it as its algorithm says)."""
        ...


class Verifier(Protocol):
    """Checks signatures made by one key."""

    @property
    def key_id(self) -> str:
        """The name of the key whose signatures this checks."""
        ...

    @property
    def algorithm(self) -> Algorithm:
        """The algorithm `verify` expects."""
        ...

    def verify(self, data: bytes, signature: bytes) -> None:
        """Return if `signature` is valid over `data`; raise `SignatureInvalid` if not."""
        ...
