"""Where the master key of secrets at rest comes from: the one place that decides.

In this order:
1. BANKGATE_SECRET_KEY (64 hex digits or base64 of 32 bytes);
2. the file BANKGATE_SECRET_KEY_FILE names;
3. neither, and the store is a SQLite *file*: a key file beside the database (`<db>.key`,
   mode 0600), made on first open and read afterwards — with a warning, because a key that
   sits beside the data protects a copied database, not a copied folder (demo, not production);
4. neither, and the store lives in memory (`sqlite://`): an ephemeral key (the data dies with
   the process anyway);
5. otherwise (PostgreSQL, MariaDB): ConfigError naming the variables.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bankgate.crypto.sealed import load_master_key
from bankgate.errors import ConfigError

__all__ = ["MasterKey", "resolve_master_key"]

log = logging.getLogger(__name__)

_VARIABLES = "BANKGATE_SECRET_KEY (64 hex digits) or BANKGATE_SECRET_KEY_FILE"


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The 32 key bytes and where they came from (for messages; never the bytes)."""

    key: bytes = field(repr=False)
    source: str  # "BANKGATE_SECRET_KEY", "BANKGATE_SECRET_KEY_FILE", "key file /x.key", ...


def resolve_master_key(*, beside: Path | None, ephemeral_ok: bool,
                       env: Mapping[str, str] | None = None,
                       where: str = "the store") -> MasterKey:
    """The master key for a store; `beside` is the SQLite database file, if it is one.

    Raises:
        ConfigError: a configured key is unusable, or none is configured where one must be.
    """
    env = os.environ if env is None else env
    if env.get("BANKGATE_SECRET_KEY"):
        return MasterKey(load_master_key(env), "BANKGATE_SECRET_KEY")
    if env.get("BANKGATE_SECRET_KEY_FILE"):
        return MasterKey(load_master_key(env), "BANKGATE_SECRET_KEY_FILE")
    if beside is not None:
        path = beside.with_name(beside.name + ".key")
        key = _key_file_beside(path)
        log.warning("no BANKGATE_SECRET_KEY: account numbers and secrets at rest are sealed "
                    "under %s, which sits beside the database (fine for a demo, not for "
                    "production: set %s)", path, _VARIABLES)
        return MasterKey(key, f"key file {path}")
    if ephemeral_ok:
        return MasterKey(secrets.token_bytes(32), "ephemeral (in-memory store)")
    raise ConfigError(f"{where} needs a master key for secrets at rest (account numbers, TOTP "
                      f"secrets): set {_VARIABLES}")


def _key_file_beside(path: Path) -> bytes:
    """Read `path`, or create it (0600) atomically: of two processes racing, one key wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(draft, path)  # fails if another process got there first: use theirs
            except FileExistsError:
                pass
        finally:
            draft.unlink(missing_ok=True)
    return load_master_key({"BANKGATE_SECRET_KEY_FILE": str(path)})
