"""Configuration of one host API bank: where, which CA, which dialect, how patient.

Keys of `[banks.<bank>]` (docs/connectors.md); times are seconds. Unknown keys, wrong types
and impossible values are refused with a `ConfigError` naming the bank and the key. Security
is not optional: mutual TLS (`client_cert`, `client_key`) and message signatures
(`signature_algorithm`, `signing_key`, `bank_public_key`) are required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from bankgate.connectors.hostapi.banks import DIALECTS
from bankgate.connectors.http import MAX_RESPONSE_BYTES, HttpSettings, RetryPolicy
from bankgate.crypto.signed_http import WINDOW_S
from bankgate.crypto.signer import Algorithm
from bankgate.errors import ConfigError

__all__ = ["KEYS", "HostApiConfig"]

#: Every key `from_mapping` accepts, with its default (None: required or optional, no default).
KEYS: Final[Mapping[str, object]] = {
    "base_url": None, "ca_file": None, "client_cert": None, "client_key": None,
    "dialect": None, "callback_url": None,
    "signature_algorithm": None, "signing_key": None, "signing_key_password_file": None,
    "bank_public_key": None, "clock_window_s": WINDOW_S, "crl_file": None,
    "connect_timeout_s": 3.0, "timeout_s": 10.0, "write_timeout_s": 10.0,
    "pool_timeout_s": 3.0, "max_attempts": 3, "backoff_s": 0.2, "backoff_cap_s": 5.0,
    "max_total_s": 30.0, "max_response_bytes": MAX_RESPONSE_BYTES,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HostApiConfig:
    """One bank's host API settings, checked when loaded."""

    bank: str
    base_url: str  # https://host:port/<bank>/v1, no trailing slash
    dialect: str  # a key of banks.DIALECTS
    ca_file: Path
    client_cert: Path
    client_key: Path
    signature_algorithm: Algorithm  # agreed with the bank, for both directions
    signing_key: Path  # our encrypted PKCS#8 PEM key that signs every request
    signing_key_password_file: Path | None
    bank_public_key: Path  # the bank's certificate or public key: answers and callbacks
    clock_window_s: float = WINDOW_S  # a callback's timestamp must be this close to our clock
    crl_file: Path | None = None  # the CA's CRL: the bank's certificate is checked against it
    connect_timeout_s: float = 3.0
    timeout_s: float = 10.0  # read timeout: the longest silence while waiting for an answer
    write_timeout_s: float = 10.0
    pool_timeout_s: float = 3.0
    max_attempts: int = 3  # per call, for what is safe to retry
    backoff_s: float = 0.2
    backoff_cap_s: float = 5.0
    max_total_s: float = 30.0
    max_response_bytes: int = MAX_RESPONSE_BYTES
    callback_url: str | None = None

    @property
    def http(self) -> HttpSettings:
        """The transport settings."""
        return HttpSettings(ca_file=self.ca_file, client_cert=self.client_cert,
                            client_key=self.client_key, crl_file=self.crl_file,
                            connect_timeout_s=self.connect_timeout_s,
                            read_timeout_s=self.timeout_s, write_timeout_s=self.write_timeout_s,
                            pool_timeout_s=self.pool_timeout_s,
                            max_response_bytes=self.max_response_bytes)

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy for requests that are safe to repeat."""
        return RetryPolicy(max_attempts=self.max_attempts, backoff_s=self.backoff_s,
                           backoff_cap_s=self.backoff_cap_s, max_total_s=self.max_total_s)

    @classmethod
    def from_mapping(cls, bank: str, raw: Mapping[str, Any]) -> HostApiConfig:
        """Build from configuration; ConfigError names the bank and the key."""
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            raise ConfigError(f"banks.{bank}: unknown key {unknown[0]!r} "
                              f"(known: {', '.join(sorted(KEYS))})")
        where = f"banks.{bank}"
        dialect = _text(raw, "dialect", where, default=bank)
        if dialect not in DIALECTS:
            raise ConfigError(f"{where}.dialect: {dialect!r} is not one of "
                              f"{', '.join(sorted(DIALECTS))}")
        if raw.get("ca_file") in (None, ""):
            raise ConfigError(f"{where}.ca_file: required (the CA of the bank's TLS "
                              "certificate); verification is never switched off")
        cert, key = _path(raw, "client_cert", where), _path(raw, "client_key", where)
        if key is not None and cert is None:
            raise ConfigError(f"{where}.client_key: given without client_cert")
        return cls(
            bank=bank, base_url=_url(raw, "base_url", where, required=True).rstrip("/"),
            dialect=dialect, ca_file=Path(_text(raw, "ca_file", where)),
            client_cert=_required(cert, "client_cert", where, "mutual TLS"),
            client_key=_required(key, "client_key", where, "mutual TLS"),
            signature_algorithm=_algorithm(raw, where),
            signing_key=_required(_path(raw, "signing_key", where), "signing_key", where,
                                  "every request is signed"),
            signing_key_password_file=_path(raw, "signing_key_password_file", where),
            bank_public_key=_required(_path(raw, "bank_public_key", where), "bank_public_key",
                                      where, "every answer and callback is verified"),
            clock_window_s=_seconds(raw, "clock_window_s", where),
            crl_file=_path(raw, "crl_file", where),
            connect_timeout_s=_seconds(raw, "connect_timeout_s", where),
            timeout_s=_seconds(raw, "timeout_s", where),
            write_timeout_s=_seconds(raw, "write_timeout_s", where),
            pool_timeout_s=_seconds(raw, "pool_timeout_s", where),
            max_attempts=_count(raw, "max_attempts", where, low=1, high=20),
            backoff_s=_seconds(raw, "backoff_s", where, zero_ok=True),
            backoff_cap_s=_seconds(raw, "backoff_cap_s", where, zero_ok=True),
            max_total_s=_seconds(raw, "max_total_s", where, zero_ok=True),
            max_response_bytes=_count(raw, "max_response_bytes", where, low=1024,
                                      high=256 * 1024 * 1024),
            callback_url=_url(raw, "callback_url", where, required=False) or None)


def _text(raw: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}: expected non-empty text, got {value!r}")
    return value.strip()


def _path(raw: Mapping[str, Any], key: str, where: str) -> Path | None:
    if raw.get(key) in (None, ""):
        return None
    return Path(_text(raw, key, where))


def _required(value: Path | None, key: str, where: str, why: str) -> Path:
    if value is None:
        raise ConfigError(f"{where}.{key}: required ({why})")
    return value


def _algorithm(raw: Mapping[str, Any], where: str) -> Algorithm:
    value = raw.get("signature_algorithm")
    if value in (None, ""):
        raise ConfigError(f"{where}.signature_algorithm: required (every request is signed); "
                          f"one of {', '.join(a.value for a in Algorithm)}")
    try:
        return Algorithm(value)
    except ValueError:
        raise ConfigError(f"{where}.signature_algorithm: {value!r} is not one of "
                          f"{', '.join(a.value for a in Algorithm)}") from None


def _url(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str:
    if not required and raw.get(key) in (None, ""):
        return ""
    value = _text(raw, key, where)
    parts = urlsplit(value)
    schemes = ("https",) if key == "base_url" else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{where}.{key}: must be an {' or '.join(schemes)} URL with a host, "
                          f"got {value!r}")
    return value


def _seconds(raw: Mapping[str, Any], key: str, where: str, *, zero_ok: bool = False) -> float:
    value = raw.get(key, KEYS[key])
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}.{key}: expected a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not zero_ok) or value > 3600:
        raise ConfigError(f"{where}.{key}: {value!r} is out of range "
                          f"({'0' if zero_ok else 'over 0'} to 3600 seconds)")
    return float(value)


def _count(raw: Mapping[str, Any], key: str, where: str, *, low: int, high: int) -> int:
    value = raw.get(key, KEYS[key])
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}: expected a whole number from {low} to {high}, "
                          f"got {value!r}")
    return value
