"""The sealing seam the services use: bytes in, bytes out, bound to a context (TOTP secrets).

`BoxSealer` puts it over `crypto/sealed.SecretBox`. A running bankgate uses the store's box
(`bootstrap.build_app`: the master key of crypto/master_key.py, the same that seals account
numbers, so enrolments survive a restart). `sealer_from_env` is for an `App` built by hand:
without a configured key it makes an ephemeral one and warns on first use.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

from bankgate.crypto.sealed import SecretBox
from bankgate.errors import ConfigError

__all__ = ["BoxSealer", "Sealer", "sealer_from_env"]

log = logging.getLogger(__name__)


class Sealer(Protocol):
    """Encrypts small secrets at rest, bound to a context (e.g. the credential id)."""

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """The sealed envelope."""
        ...

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        """The plaintext; SecurityError if it was tampered with or sealed under another key."""
        ...


class BoxSealer:
    """A `Sealer` over a `SecretBox` (AES-256-GCM or SM4-GCM envelopes)."""

    def __init__(self, box: SecretBox, *, ephemeral: bool = False) -> None:
        self._box = box
        self._warn = ephemeral

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """The envelope (ASCII bytes)."""
        if self._warn:
            self._warn = False
            log.warning("no BANKGATE_SECRET_KEY: secrets are sealed under an ephemeral key "
                        "and TOTP enrolments will not survive a restart")
        return self._box.seal(plaintext, context.decode("ascii")).encode("ascii")

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        """The plaintext, or SecurityError."""
        return self._box.open(sealed.decode("ascii"), context.decode("ascii"))

    def __repr__(self) -> str:
        return "BoxSealer(<hidden>)"


def sealer_from_env() -> BoxSealer:
    """The sealer over the configured master key, or an ephemeral one (with a warning)."""
    try:
        return BoxSealer(SecretBox.from_env())
    except ConfigError as exc:
        if "no secret key" not in str(exc):
            raise  # a key was configured but is unusable: never fall back silently
        return BoxSealer(SecretBox(os.urandom(32)), ephemeral=True)
