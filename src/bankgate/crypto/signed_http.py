"""Signed HTTP messages of the host API protocol (docs/hostapi-protocol.md, "Signatures").

Every request carries a timestamp, a nonce and a digest of its body, and a signature over
the method, the target (path and query as sent), those three, the algorithm and the key id.
Every answer and every callback is signed by the bank the same way; an answer is bound to
the request it answers through the request's nonce, so an old answer cannot be replayed.

What this module checks, in order (the first failure wins, each with its own wire code):
headers present and well-formed → key known → algorithm the one agreed for that key →
timestamp inside the window (clock skew) → digest matches the body → signature verifies.
Whether a nonce was seen before is the caller's question (`NonceCache` in memory for the
sandbox; the gateway keeps its nonces in the database); ask it only after `verify_*`
succeeded, so that forged requests cannot burn nonces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Protocol

from cryptography.hazmat.primitives import hashes

from bankgate.crypto.signer import Algorithm, Signer, Verifier
from bankgate.errors import ReplayRefused, SignatureInvalid

__all__ = [
    "ALGORITHM",
    "DIGEST",
    "KEY_ID",
    "NONCE",
    "SIGNATURE",
    "TIMESTAMP",
    "WINDOW_S",
    "AuthFailure",
    "NonceCache",
    "SignatureRefused",
    "SignedMessage",
    "StaleOrReplayed",
    "content_digest",
    "new_nonce",
    "sign_request",
    "sign_response",
    "verify_request",
    "verify_response",
]

TIMESTAMP: Final = "X-Bg-Timestamp"
NONCE: Final = "X-Bg-Nonce"
DIGEST: Final = "X-Bg-Content-Digest"
KEY_ID: Final = "X-Bg-Key-Id"
ALGORITHM: Final = "X-Bg-Algorithm"
SIGNATURE: Final = "X-Bg-Signature"
#: The default clock window: a timestamp more than this far from our clock is refused.
WINDOW_S: Final = 300.0

_NONCE: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_KEY_ID: Final = re.compile(r"[\x21-\x7e]{1,128}")
_MAX_SIGNATURE_CHARS: Final = 2048


class AuthFailure(StrEnum):
    """Why a signed message was refused; the value is the protocol's error code."""

    MISSING = "AUTH_SIGNATURE_MISSING"
    MALFORMED = "AUTH_SIGNATURE_MALFORMED"
    UNKNOWN_KEY = "AUTH_UNKNOWN_KEY"
    WRONG_ALGORITHM = "AUTH_WRONG_ALGORITHM"
    CLOCK_SKEW = "AUTH_CLOCK_SKEW"
    DIGEST_MISMATCH = "AUTH_DIGEST_MISMATCH"
    BAD_SIGNATURE = "AUTH_SIGNATURE_INVALID"
    REPLAYED = "AUTH_NONCE_REPLAYED"


class SignatureRefused(SignatureInvalid):
    """A signed message whose signature is missing, malformed, unknown or wrong (A-01)."""

    def __init__(self, failure: AuthFailure, message: str, *, key_id: str = "") -> None:
        self.failure = failure
        self.key_id = key_id
        super().__init__(f"{failure.value}: {message}")


class StaleOrReplayed(ReplayRefused):
    """A signed message outside the clock window or with a nonce seen before (A-02, I-07)."""

    def __init__(self, failure: AuthFailure, message: str, *, key_id: str = "") -> None:
        self.failure = failure
        self.key_id = key_id
        super().__init__(f"{failure.value}: {message}")


class HeaderLookup(Protocol):
    """Anything with a case-insensitive `get` (httpx.Headers, http.server headers)."""

    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """What a verified message said about itself."""

    key_id: str
    algorithm: Algorithm
    timestamp: int  # Unix seconds
    nonce: str  # empty for answers (they are bound to the request's nonce instead)


def new_nonce() -> str:
    """A fresh 128-bit nonce, 32 hex digits."""
    return secrets.token_hex(16)


def content_digest(body: bytes, algorithm: Algorithm) -> str:
    """The body digest header value: SM3 for SM2 signatures, SHA-256 otherwise."""
    if algorithm is Algorithm.SM2_SM3:
        digest = hashes.Hash(hashes.SM3())
        digest.update(body)
        return f"sm3=:{base64.b64encode(digest.finalize()).decode()}:"
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def _request_bytes(algorithm: Algorithm, key_id: str, method: str, target: str,
                   timestamp: int, nonce: str, digest: str) -> bytes:
    lines = ("BG1-REQUEST", algorithm.value, key_id, method.upper(), target, str(timestamp),
             nonce, digest)
    return "\n".join(lines).encode("utf-8")


def _response_bytes(algorithm: Algorithm, key_id: str, status: int, method: str, target: str,
                    request_nonce: str, timestamp: int, digest: str) -> bytes:
    lines = ("BG1-RESPONSE", algorithm.value, key_id, str(status), method.upper(), target,
             request_nonce, str(timestamp), digest)
    return "\n".join(lines).encode("utf-8")


def _headers(signer: Signer, signature_input: bytes, timestamp: int,
             digest: str) -> dict[str, str]:
    return {TIMESTAMP: str(timestamp), DIGEST: digest, KEY_ID: signer.key_id,
            ALGORITHM: signer.algorithm.value,
            SIGNATURE: base64.b64encode(signer.sign(signature_input)).decode()}


def sign_request(signer: Signer, *, method: str, target: str, body: bytes, now: datetime,
                 nonce: str | None = None) -> dict[str, str]:
    """The headers that sign a request to `target` (its path and query, exactly as sent)."""
    nonce = nonce or new_nonce()
    timestamp = int(now.timestamp())
    digest = content_digest(body, signer.algorithm)
    data = _request_bytes(signer.algorithm, signer.key_id, method, target, timestamp, nonce,
                          digest)
    return {**_headers(signer, data, timestamp, digest), NONCE: nonce}


def sign_response(signer: Signer, *, status: int, method: str, target: str,
                  request_nonce: str, body: bytes, now: datetime) -> dict[str, str]:
    """The headers that sign an answer to the request (`method`, `target`, `request_nonce`)."""
    timestamp = int(now.timestamp())
    digest = content_digest(body, signer.algorithm)
    data = _response_bytes(signer.algorithm, signer.key_id, status, method, target,
                           request_nonce, timestamp, digest)
    return _headers(signer, data, timestamp, digest)


@dataclass(frozen=True, slots=True)
class _Parts:
    key_id: str
    algorithm: Algorithm
    timestamp: int
    digest: str
    signature: bytes


def _parts(headers: HeaderLookup) -> _Parts:
    names = (TIMESTAMP, DIGEST, KEY_ID, ALGORITHM, SIGNATURE)
    values = {name: (headers.get(name) or "").strip() for name in names}
    absent = [name for name, value in values.items() if not value]
    if len(absent) == len(names):
        raise SignatureRefused(AuthFailure.MISSING, "the message is not signed")
    if absent:
        raise SignatureRefused(AuthFailure.MALFORMED, f"header {absent[0]} is missing")
    key_id = values[KEY_ID]
    if not _KEY_ID.fullmatch(key_id):
        raise SignatureRefused(AuthFailure.MALFORMED, f"header {KEY_ID} is not a key id")
    try:
        algorithm = Algorithm(values[ALGORITHM])
    except ValueError:
        raise SignatureRefused(AuthFailure.MALFORMED, f"header {ALGORITHM}: "
                               f"{values[ALGORITHM][:40]!r} is not one of "
                               f"{', '.join(a.value for a in Algorithm)}",
                               key_id=key_id) from None
    if not _TIMESTAMP.fullmatch(values[TIMESTAMP]):
        raise SignatureRefused(AuthFailure.MALFORMED, f"header {TIMESTAMP} is not Unix "
                               "seconds", key_id=key_id)
    return _Parts(key_id, algorithm, int(values[TIMESTAMP]), values[DIGEST],
                  _signature_bytes(values[SIGNATURE], key_id))


def _signature_bytes(text: str, key_id: str) -> bytes:
    try:
        if len(text) > _MAX_SIGNATURE_CHARS:
            raise ValueError("too long")
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise SignatureRefused(AuthFailure.MALFORMED, f"header {SIGNATURE} is not base64",
                               key_id=key_id) from None


def _verifier(parts: _Parts, verifiers: Mapping[str, Verifier]) -> Verifier:
    verifier = verifiers.get(parts.key_id)
    if verifier is None:
        raise SignatureRefused(AuthFailure.UNKNOWN_KEY, f"key {parts.key_id!r} is not "
                               "registered", key_id=parts.key_id)
    if verifier.algorithm is not parts.algorithm:
        raise SignatureRefused(AuthFailure.WRONG_ALGORITHM, f"key {parts.key_id!r} signs "
                               f"with {verifier.algorithm.value}, the message claims "
                               f"{parts.algorithm.value}", key_id=parts.key_id)
    return verifier


def _check_window(parts: _Parts, now: datetime, window_s: float) -> None:
    skew = parts.timestamp - now.timestamp()
    if abs(skew) > window_s:
        stamped = datetime.fromtimestamp(min(parts.timestamp, 253402300799), UTC)
        side = "ahead of" if skew > 0 else "behind"
        raise StaleOrReplayed(AuthFailure.CLOCK_SKEW,
                              f"clock skew: the timestamp {stamped:%Y-%m-%dT%H:%M:%SZ} is "
                              f"{abs(skew):.0f} s {side} our clock (window ±{window_s:g} s)",
                              key_id=parts.key_id)


def _check_body(parts: _Parts, body: bytes) -> None:
    expected = content_digest(body, parts.algorithm)
    if not hmac.compare_digest(expected.encode(), parts.digest.encode()):
        raise SignatureRefused(AuthFailure.DIGEST_MISMATCH, f"header {DIGEST} does not match "
                               "the body", key_id=parts.key_id)


def _check_signature(verifier: Verifier, parts: _Parts, data: bytes) -> None:
    try:
        verifier.verify(data, parts.signature)
    except SignatureInvalid:
        raise SignatureRefused(AuthFailure.BAD_SIGNATURE, f"the signature does not verify "
                               f"with key {parts.key_id!r}", key_id=parts.key_id) from None


def verify_request(headers: HeaderLookup, *, method: str, target: str, body: bytes,
                   verifiers: Mapping[str, Verifier], now: datetime,
                   window_s: float = WINDOW_S) -> SignedMessage:
    """Check a signed request (or callback); what it says about itself if it holds.

    Raises:
        SignatureRefused: missing, malformed, unknown key, wrong algorithm, digest or
            signature wrong (A-01).
        StaleOrReplayed: the timestamp is outside ±`window_s` of `now` (I-07, A-02).
    """
    parts = _parts(headers)
    nonce = (headers.get(NONCE) or "").strip()
    if not _NONCE.fullmatch(nonce):
        raise SignatureRefused(AuthFailure.MALFORMED, f"header {NONCE} is missing or not "
                               "16-64 letters, digits, - or _", key_id=parts.key_id)
    verifier = _verifier(parts, verifiers)
    _check_window(parts, now, window_s)
    _check_body(parts, body)
    _check_signature(verifier, parts, _request_bytes(parts.algorithm, parts.key_id, method,
                                                     target, parts.timestamp, nonce,
                                                     parts.digest))
    return SignedMessage(parts.key_id, parts.algorithm, parts.timestamp, nonce)


def verify_response(headers: HeaderLookup, *, status: int, method: str, target: str,
                    request_nonce: str, body: bytes,
                    verifiers: Mapping[str, Verifier]) -> SignedMessage:
    """Check a bank's signed answer to our request (B-15: a failure means a forged answer).

    Freshness comes from the binding to our request's fresh nonce, not from the clock.

    Raises:
        SignatureRefused: unsigned, malformed, unknown key, digest or signature wrong.
    """
    parts = _parts(headers)
    verifier = _verifier(parts, verifiers)
    _check_body(parts, body)
    _check_signature(verifier, parts, _response_bytes(parts.algorithm, parts.key_id, status,
                                                      method, target, request_nonce,
                                                      parts.timestamp, parts.digest))
    return SignedMessage(parts.key_id, parts.algorithm, parts.timestamp, "")


class NonceCache:
    """Nonces seen in the last `ttl_s` seconds, in memory (one process: the sandbox bank)."""

    def __init__(self, ttl_s: float = 2 * WINDOW_S) -> None:
        if ttl_s < WINDOW_S:
            raise ValueError(f"a nonce must be kept at least the window ({WINDOW_S:g} s)")
        self._ttl_s = ttl_s
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def remember(self, message: SignedMessage, *, now: datetime) -> None:
        """Remember the message's nonce; StaleOrReplayed when it was seen within the TTL."""
        at = now.timestamp()
        key = (message.key_id, message.nonce)
        with self._lock:
            self._purge(at)
            if self._seen.get(key, at - 1) >= at:
                raise StaleOrReplayed(AuthFailure.REPLAYED, f"nonce {message.nonce[:16]}… "
                                      "was seen before: a replayed request",
                                      key_id=message.key_id)
            self._seen[key] = at + self._ttl_s

    def _purge(self, at: float) -> None:
        if len(self._seen) < 4096:
            return
        for key in [k for k, until in self._seen.items() if until < at]:
            del self._seen[key]
