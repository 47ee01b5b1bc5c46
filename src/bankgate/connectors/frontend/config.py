"""Configuration of one bank reached through its front-end processor (前置机).

Keys of `[banks.<bank>]` with `kind = "frontend"` (docs/frontend-channel.md). The front-end
is the bank's software on the company's own machine: the gateway reaches it on loopback or
the LAN (`http://`), or over TLS (`https://` with `ca_file`). The token and its SM2 key
live in the front-end, never in the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from bankgate.connectors.frontend.banks import BANKS
from bankgate.connectors.http import MAX_RESPONSE_BYTES, RetryPolicy
from bankgate.errors import ConfigError

__all__ = ["KEYS", "FrontendConfig"]

KEYS: Final[Mapping[str, object]] = {
    "base_url": None, "dialect": None, "login": None, "branch": "75", "ca_file": None,
    "connect_timeout_s": 3.0, "timeout_s": 30.0, "max_attempts": 3, "backoff_s": 0.2,
    "max_total_s": 30.0, "max_response_bytes": MAX_RESPONSE_BYTES,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontendConfig:
    """One front-end bank's settings, checked when loaded."""

    bank: str
    base_url: str  # the front-end's address, e.g. http://127.0.0.1:8080/
    dialect: str  # a key of banks.BANKS
    login: str  # LGNNAM: the direct-connect operator the bank registered
    branch: str  # BBKNBR: the branch code of our accounts
    ca_file: Path | None = None
    connect_timeout_s: float = 3.0
    timeout_s: float = 30.0
    max_attempts: int = 3
    backoff_s: float = 0.2
    max_total_s: float = 30.0
    max_response_bytes: int = MAX_RESPONSE_BYTES

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy for requests that are safe to repeat."""
        return RetryPolicy(max_attempts=self.max_attempts, backoff_s=self.backoff_s,
                           max_total_s=self.max_total_s)

    @classmethod
    def from_mapping(cls, bank: str, raw: Mapping[str, Any]) -> FrontendConfig:
        """Build from configuration; ConfigError names the bank and the key."""
        where = f"banks.{bank}"
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} "
                              f"(known: {', '.join(sorted(KEYS))})")
        dialect = _text(raw, "dialect", where, default=bank)
        if dialect not in BANKS:
            raise ConfigError(f"{where}.dialect: {dialect!r} is not one of "
                              f"{', '.join(sorted(BANKS))}")
        url = _text(raw, "base_url", where)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}.base_url: must be an http(s) URL with a host, "
                              f"got {url!r}")
        ca = raw.get("ca_file")
        if parts.scheme == "https" and not ca:
            raise ConfigError(f"{where}.ca_file: required for an https front-end")
        return cls(bank=bank, base_url=url, dialect=dialect,
                   login=_text(raw, "login", where), branch=_text(raw, "branch", where,
                                                                  default="75"),
                   ca_file=Path(str(ca)) if ca else None,
                   connect_timeout_s=_number(raw, "connect_timeout_s", where),
                   timeout_s=_number(raw, "timeout_s", where),
                   max_attempts=int(_number(raw, "max_attempts", where, whole=True)),
                   backoff_s=_number(raw, "backoff_s", where, zero_ok=True),
                   max_total_s=_number(raw, "max_total_s", where, zero_ok=True),
                   max_response_bytes=int(_number(raw, "max_response_bytes", where,
                                                  whole=True)))


def _text(raw: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}: expected non-empty text, got {value!r}")
    return value.strip()


def _number(raw: Mapping[str, Any], key: str, where: str, *, zero_ok: bool = False,
            whole: bool = False) -> float:
    value = raw.get(key, KEYS[key])
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(f"{where}.{key}: expected {'a whole number' if whole else 'a number'}"
                          f", got {value!r}")
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(f"{where}.{key}: {value!r} is out of range")
    return float(value)
