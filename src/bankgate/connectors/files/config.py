"""Configuration of one file-exchange bank: SFTP host, pinned host key, our key, directories.

Keys of `[banks.<bank>]` with `kind = "files"` (docs/file-channel.md); times are seconds.
Unknown keys, wrong types and impossible values are refused with a `ConfigError` naming the
bank and the key. The server's host key is pinned: there is no "accept any host key".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bankgate.errors import ConfigError

__all__ = ["KEYS", "FilesConfig"]

#: Every key `from_mapping` accepts, with its default (None: required or optional).
KEYS: Final[Mapping[str, object]] = {
    "host": None, "port": 22, "username": None, "client_key": None, "host_key": None,
    "outbound_dir": "out", "inbound_dir": "in", "pain001_version": "03",
    "connect_timeout_s": 5.0, "timeout_s": 20.0, "max_file_bytes": 64 * 1024 * 1024,
    "max_attempts": 3, "initiating_party": None, "collect_every_s": 300.0,
}
_DIR: Final = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_USER: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FilesConfig:
    """One bank's file channel settings, checked when loaded."""

    bank: str
    host: str
    port: int = 22
    username: str
    client_key: Path  # our private key (OpenSSH or PKCS#8 PEM), never logged
    host_key: str  # the server's public host key, OpenSSH one-line form (pinned)
    outbound_dir: str = "out"  # where we upload pain.001
    inbound_dir: str = "in"  # where the bank puts pain.002, camt.05x, MT940
    pain001_version: str = "03"
    connect_timeout_s: float = 5.0
    timeout_s: float = 20.0  # the longest one SFTP request may take
    max_file_bytes: int = 64 * 1024 * 1024
    max_attempts: int = 3  # reconnects within one transfer (B-17: resume where it broke)
    initiating_party: str | None = None
    collect_every_s: float = 300.0  # how often the worker collects inbound files

    @classmethod
    def from_mapping(cls, bank: str, raw: Mapping[str, Any]) -> FilesConfig:
        """Build from configuration; ConfigError names the bank and the key."""
        where = f"banks.{bank}"
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} "
                              f"(known: {', '.join(sorted(KEYS))})")
        username = _text(raw, "username", where)
        if not _USER.fullmatch(username):
            raise ConfigError(f"{where}.username: {username!r} is not 1-64 letters, digits, "
                              "'.', '_' or '-'")
        version = _text(raw, "pain001_version", where, default="03")
        if version not in ("03", "09"):
            raise ConfigError(f"{where}.pain001_version: {version!r} is not '03' or '09'")
        party = raw.get("initiating_party")
        return cls(
            bank=bank, host=_text(raw, "host", where), port=_count(raw, "port", where, 1, 65535),
            username=username, client_key=Path(_text(raw, "client_key", where)),
            host_key=_host_key(raw, where),
            outbound_dir=_directory(raw, "outbound_dir", where),
            inbound_dir=_directory(raw, "inbound_dir", where),
            pain001_version=version,
            connect_timeout_s=_seconds(raw, "connect_timeout_s", where),
            timeout_s=_seconds(raw, "timeout_s", where),
            max_file_bytes=_count(raw, "max_file_bytes", where, 1024, 2 * 1024 ** 3),
            max_attempts=_count(raw, "max_attempts", where, 1, 20),
            initiating_party=_text(raw, "initiating_party", where) if party else None,
            collect_every_s=_seconds(raw, "collect_every_s", where))


def _text(raw: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}: expected non-empty text, got {value!r}")
    return value.strip()


def _host_key(raw: Mapping[str, Any], where: str) -> str:
    """The pinned key: an OpenSSH public key line, or a path to a file holding one."""
    if raw.get("host_key") in (None, ""):
        raise ConfigError(f"{where}.host_key: required (the bank's SSH host key, pinned); "
                          "unknown host keys are always refused")
    value = _text(raw, "host_key", where)
    if not value.startswith(("ssh-", "ecdsa-")):
        try:
            value = Path(value).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}.host_key: cannot read {value!r}: {exc}") from exc
    if not value.startswith(("ssh-", "ecdsa-")) or len(value.split()) < 2:
        raise ConfigError(f"{where}.host_key: not an OpenSSH public key line "
                          "('ssh-ed25519 AAAA…')")
    return value


def _directory(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(raw, key, where, default=str(KEYS[key]))
    if not _DIR.fullmatch(value) or ".." in value.split("/"):
        raise ConfigError(f"{where}.{key}: {value!r} must be a relative path of plain names")
    return value


def _seconds(raw: Mapping[str, Any], key: str, where: str) -> float:
    value = raw.get(key, KEYS[key])
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ConfigError(f"{where}.{key}: expected seconds over 0 and up to 3600, "
                          f"got {value!r}")
    return float(value)


def _count(raw: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = raw.get(key, KEYS[key])
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}: expected a whole number from {low} to {high}, "
                          f"got {value!r}")
    return value
