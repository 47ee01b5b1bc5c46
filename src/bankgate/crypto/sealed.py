"""Secrets at rest (bank credentials, API keys, full account numbers): an authenticated,
versioned envelope under a master key from the environment or a key file.

Envelope (then base64url, prefixed "bgs1."): magic "BGS", version 1, algorithm (1 AES-256-GCM,
2 SM4-GCM), the first 8 bytes of SHA-256 of the master key (which key sealed it, so a wrong
key is named as such), a 96-bit random nonce, ciphertext and 128-bit tag. The header and the
caller's `context` (e.g. "credential:icbc:password") are authenticated data, so an envelope
moved to another field or altered anywhere does not open. Each algorithm gets its own key,
derived from the master key with HKDF-SHA256.

The master key: BANKGATE_SECRET_KEY (32 bytes as 64 hex digits or base64) or the file named
by BANKGATE_SECRET_KEY_FILE (the same text, or 32 raw bytes); never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bankgate.crypto.sm import Sm4Gcm
from bankgate.errors import ConfigError, SecurityError

__all__ = ["BlindIndex", "SealAlgorithm", "SecretBox", "load_master_key"]

_MAGIC: Final = b"BGS"
_VERSION: Final = 1
_PREFIX: Final = "bgs1."
_NONCE: Final = 12


class SealAlgorithm(IntEnum):
    """The cipher of an envelope; the value is its byte in the header."""

    AES_256_GCM = 1
    SM4_GCM = 2


def load_master_key(env: Mapping[str, str] | None = None) -> bytes:
    """The 32-byte master key from BANKGATE_SECRET_KEY or BANKGATE_SECRET_KEY_FILE."""
    env = os.environ if env is None else env
    if env.get("BANKGATE_SECRET_KEY"):
        return _decode_key(env["BANKGATE_SECRET_KEY"].encode(), "BANKGATE_SECRET_KEY")
    if env.get("BANKGATE_SECRET_KEY_FILE"):
        path = Path(env["BANKGATE_SECRET_KEY_FILE"])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"BANKGATE_SECRET_KEY_FILE {path}: {exc.strerror}") from exc
        return raw if len(raw) == 32 else _decode_key(raw.strip(), str(path))
    raise ConfigError("no secret key: set BANKGATE_SECRET_KEY (64 hex digits) or "
                      "BANKGATE_SECRET_KEY_FILE")


def _decode_key(text: bytes, where: str) -> bytes:
    for decode in (_from_hex, _from_base64):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise ConfigError(f"{where}: the secret key must be 32 bytes (64 hex digits or base64)")


def _from_hex(text: bytes) -> bytes:
    return bytes.fromhex(text.decode("ascii"))


def _from_base64(text: bytes) -> bytes:
    return base64.b64decode(text, validate=True)


_ALGORITHMS: Final = {a.value: a for a in SealAlgorithm}


class SecretBox:
    """Seals and opens secrets under one master key."""

    __slots__ = ("_aes", "_algorithm", "_fingerprint", "_keys")

    def __init__(self, master_key: bytes,
                 algorithm: SealAlgorithm = SealAlgorithm.AES_256_GCM) -> None:
        if len(master_key) != 32:
            raise ConfigError("the master key must be 32 bytes")
        self._algorithm = algorithm
        self._fingerprint = hashlib.sha256(master_key).digest()[:8]
        self._keys = {a: _derive(master_key, a) for a in SealAlgorithm}
        # one AESGCM object for the box's life: it holds no per-message state, and building
        # it per value cost ~1 µs of ~6 (bench/sealed.py)
        self._aes = AESGCM(self._keys[SealAlgorithm.AES_256_GCM])

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 algorithm: SealAlgorithm = SealAlgorithm.AES_256_GCM) -> SecretBox:
        """A box over the master key the environment names."""
        return cls(load_master_key(env), algorithm)

    def seal(self, plaintext: bytes, context: str = "") -> str:
        """The envelope of `plaintext`, bound to `context` (text: "bgs1." + base64url)."""
        return _PREFIX + base64.urlsafe_b64encode(self.seal_bytes(plaintext, context)).decode(
            "ascii")

    def seal_bytes(self, plaintext: bytes, context: str = "") -> bytes:
        """The same envelope as raw bytes (starting with b"BGS"), for binary columns."""
        nonce = os.urandom(_NONCE)
        header = _MAGIC + bytes([_VERSION, self._algorithm]) + self._fingerprint + nonce
        return header + self._cipher(self._algorithm, nonce, plaintext,
                                     header + context.encode(), True)

    def open(self, envelope: str, context: str = "") -> bytes:
        """The plaintext sealed in `envelope` for `context`.

        Raises:
            SecurityError: not an envelope, another key, or altered (or another context).
        """
        if not envelope.startswith(_PREFIX):
            raise SecurityError("not a sealed secret (expected the bgs1. prefix)")
        try:
            raw = base64.urlsafe_b64decode(envelope[len(_PREFIX):])
        except (ValueError, binascii.Error) as exc:
            raise SecurityError("sealed secret: not base64url") from exc
        return self.open_bytes(raw, context)

    def open_bytes(self, raw: bytes, context: str = "") -> bytes:
        """The plaintext of a raw-bytes envelope (`seal_bytes`); SecurityError as `open`."""
        header, body = raw[:5 + 8 + _NONCE], raw[5 + 8 + _NONCE:]
        if len(header) < 5 + 8 + _NONCE or header[:3] != _MAGIC or header[3] != _VERSION:
            raise SecurityError("sealed secret: unknown envelope version")
        algorithm = _ALGORITHMS.get(header[4])
        if algorithm is None:
            raise SecurityError(f"sealed secret: unknown algorithm {header[4]}")
        if header[5:13] != self._fingerprint:
            raise SecurityError("sealed secret: sealed under another master key")
        return self._cipher(algorithm, header[13:], body, header + context.encode(), False)

    def _cipher(self, algorithm: SealAlgorithm, nonce: bytes, data: bytes, aad: bytes,
                encrypt: bool) -> bytes:
        key = self._keys[algorithm]
        if algorithm is SealAlgorithm.SM4_GCM:
            box = Sm4Gcm(key)
            return box.encrypt(nonce, data, aad) if encrypt else box.decrypt(nonce, data, aad)
        try:
            aes = self._aes
            return aes.encrypt(nonce, data, aad) if encrypt else aes.decrypt(nonce, data, aad)
        except InvalidTag as exc:
            raise SecurityError("sealed secret: authentication failed (altered, or "
                                "another context)") from exc

    def __repr__(self) -> str:
        return f"SecretBox({self._algorithm.name}, key {self._fingerprint.hex()})"


def _derive(master_key: bytes, algorithm: SealAlgorithm) -> bytes:
    length = 16 if algorithm is SealAlgorithm.SM4_GCM else 32
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                info=f"bankgate sealed/{algorithm.name}".encode()).derive(master_key)


class BlindIndex:
    """A keyed blind index: equal (normalised) values give equal tags, and without the key
    a tag says nothing about its value — unlike a plain hash of a 16-digit account number,
    which a laptop inverts by trying them all.

    HMAC-SHA256 under a key derived from the master key with its own HKDF label (never the
    sealing key), over the value without spaces, upper-cased; hex of the first 16 bytes.
    """

    __slots__ = ("_key", "label")

    def __init__(self, master_key: bytes, label: str) -> None:
        if len(master_key) != 32:
            raise ConfigError("the master key must be 32 bytes")
        self.label = label
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                         info=f"bankgate blind-index/{label}".encode()).derive(master_key)

    def tag(self, value: str) -> str:
        """The index of `value` (32 hex digits)."""
        normalised = "".join(value.split()).upper().encode("utf-8")
        return hmac.digest(self._key, normalised, "sha256")[:16].hex()

    def __repr__(self) -> str:
        return f"BlindIndex({self.label!r}, <key hidden>)"
