"""Configuration of one host API bank: where, which CA, which dialect, how patient."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bankgate.connectors.hostapi.banks import DIALECTS
from bankgate.connectors.http import HttpSettings
from bankgate.errors import ConfigError

__all__ = ["HostApiConfig"]

_KEYS = {"base_url", "ca_file", "client_cert", "client_key", "dialect", "timeout_s",
         "connect_timeout_s", "max_attempts", "backoff_s", "callback_url"}


@dataclass(frozen=True, slots=True, kw_only=True)
class HostApiConfig:
    """One bank's host API settings, checked when loaded."""

    bank: str
    base_url: str  # https://host:port/<bank>/v1
    dialect: str
    http: HttpSettings
    max_attempts: int = 3  # for requests that are safe to repeat
    backoff_s: float = 0.2
    callback_url: str | None = None

    @classmethod
    def from_mapping(cls, bank: str, raw: Mapping[str, Any]) -> HostApiConfig:
        """Build from configuration; ConfigError names the bank and the key."""
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise ConfigError(f"banks.{bank}: unknown key {unknown[0]!r} "
                              f"(known: {', '.join(sorted(_KEYS))})")
        base_url = str(raw.get("base_url", ""))
        if not base_url.startswith("https://"):
            raise ConfigError(f"banks.{bank}.base_url: must be an https:// URL, got {base_url!r}")
        dialect = str(raw.get("dialect", bank))
        if dialect not in DIALECTS:
            raise ConfigError(f"banks.{bank}.dialect: {dialect!r} is not one of "
                              f"{', '.join(sorted(DIALECTS))}")
        if "ca_file" not in raw:
            raise ConfigError(f"banks.{bank}.ca_file: required (the CA of the bank's TLS "
                              "certificate); verification is never switched off")
        try:
            http = HttpSettings(
                ca_file=Path(raw["ca_file"]),
                client_cert=Path(raw["client_cert"]) if raw.get("client_cert") else None,
                client_key=Path(raw["client_key"]) if raw.get("client_key") else None,
                timeout_s=float(raw.get("timeout_s", 10.0)),
                connect_timeout_s=float(raw.get("connect_timeout_s", 3.0)))
            return cls(bank=bank, base_url=base_url.rstrip("/"), dialect=dialect, http=http,
                       max_attempts=int(raw.get("max_attempts", 3)),
                       backoff_s=float(raw.get("backoff_s", 0.2)),
                       callback_url=raw.get("callback_url") or None)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"banks.{bank}: {exc}") from exc
