"""Interim AES-GCM sealing of TOTP secrets, until crypto/sealed.py (issue 5, crypto) lands.

The seam is one protocol with two methods; services/users.py depends on it only. The key
comes from BANKGATE_SEAL_KEY (64 hex digits); without it an ephemeral key is made and a
warning logged, so TOTP enrolments do not survive a restart of that process.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bankgate.errors import ConfigError, SecurityError

__all__ = ["AesGcmSealer", "Sealer", "sealer_from_env"]

log = logging.getLogger(__name__)


class Sealer(Protocol):
    """Encrypts small secrets at rest, bound to a context (e.g. the credential id)."""

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Nonce + ciphertext + tag."""
        ...

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        """The plaintext; SecurityError if it was tampered with or sealed under another key."""
        ...


class AesGcmSealer:
    """AES-256-GCM with a random 96-bit nonce; the context is the associated data."""

    def __init__(self, key: bytes, *, ephemeral: bool = False) -> None:
        if len(key) != 32:
            raise ConfigError("the sealing key must be 32 bytes (64 hex digits)")
        self._aead = AESGCM(key)
        self._warn = ephemeral

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Nonce + ciphertext + tag."""
        if self._warn:
            self._warn = False
            log.warning("BANKGATE_SEAL_KEY is not set: TOTP secrets are sealed under an "
                        "ephemeral key and enrolments will not survive a restart")
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        """The plaintext, or SecurityError."""
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context)
        except (InvalidTag, ValueError) as exc:
            raise SecurityError("a sealed secret cannot be opened (wrong key or "
                                "tampered)") from exc

    def __repr__(self) -> str:
        return "AesGcmSealer(key=<hidden>)"


def sealer_from_env() -> AesGcmSealer:
    """The sealer over BANKGATE_SEAL_KEY, or an ephemeral one (with a warning)."""
    raw = os.environ.get("BANKGATE_SEAL_KEY")
    if raw:
        try:
            return AesGcmSealer(bytes.fromhex(raw))
        except ValueError as exc:
            raise ConfigError("BANKGATE_SEAL_KEY must be 64 hex digits") from exc
    return AesGcmSealer(secrets.token_bytes(32), ephemeral=True)
