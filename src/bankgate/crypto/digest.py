"""Digests (SHA-256, SM3) and the canonical hash of structured data.

The canonical form is JSON with sorted keys, no insignificant whitespace and UTF-8 text
(in the spirit of RFC 8785, restricted to what bankgate hashes): strings, integers, booleans,
null, lists and objects with string keys, plus `Decimal` (as its string), `date` and aware
`datetime` (ISO 8601 in UTC). Floats are refused: an amount that went through a float is
already wrong, and two writers would not agree on its digits.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum

from cryptography.hazmat.primitives import hashes

__all__ = ["DigestAlgorithm", "canonical_bytes", "canonical_hash", "digest", "hexdigest"]


class DigestAlgorithm(StrEnum):
    """Hash functions bankgate uses; the value is the name written next to a digest."""

    SHA256 = "sha256"
    SM3 = "sm3"  # GB/T 32905-2016


_HASHES = {DigestAlgorithm.SHA256: hashes.SHA256, DigestAlgorithm.SM3: hashes.SM3}


def digest(data: bytes, algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> bytes:
    """The 32-byte digest of `data`."""
    hasher = hashes.Hash(_HASHES[algorithm]())
    hasher.update(data)
    return hasher.finalize()


def hexdigest(data: bytes, algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> str:
    """The digest of `data` as 64 lower-case hex digits."""
    return digest(data, algorithm).hex()


def canonical_bytes(value: object) -> bytes:
    """The canonical JSON bytes of `value` (see the module docstring).

    Raises:
        ValueError: a float, a naive datetime, a non-string key or an unknown type.
    """
    return json.dumps(_plain(value, "$"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def canonical_hash(value: object, algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> str:
    """The hex digest of `canonical_bytes(value)`."""
    return hexdigest(canonical_bytes(value), algorithm)


def _plain(value: object, where: str) -> object:
    """`value` reduced to JSON types; `where` is the JSON path named in errors."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        raise ValueError(f"{where}: floats cannot be hashed canonically ({value!r}); "
                         "use Decimal or a string")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where}: {value} is not a finite decimal")
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{where}: naive datetime {value.isoformat()}; use aware UTC")
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {_key(k, where): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{where}: {type(value).__name__} cannot be hashed canonically")


def _key(key: object, where: str) -> str:
    if not isinstance(key, str):
        raise ValueError(f"{where}: object keys must be strings, got {key!r}")
    return key
