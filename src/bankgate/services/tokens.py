"""Signing-token administration: the gateway's PIN lockout (A-12) seen, alerted and undone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from bankgate.atomic import write_atomically
from bankgate.crypto.keyfiles import seal_password
from bankgate.crypto.pin import DEFAULT_MAX_FAILURES, PinGuard
from bankgate.domain.alerts import AlertLevel
from bankgate.services._tx import UowFactory
from bankgate.services.alerts import new_alert, raise_alert_now
from bankgate.store import make_engine
from bankgate.store.security import SqlPinCounterStore

__all__ = ["pin_guard", "seal_password_file", "token_failures", "unlock_token"]


def pin_guard(*, engine: Engine, uow: UowFactory, now: Callable[[], datetime],
              max_failures: int = DEFAULT_MAX_FAILURES) -> PinGuard:
    """The PinGuard of a running gateway: counts in the store; a lock raises a critical
    `token.pin_locked` alert (A-12: an alert, not only a log line)."""
    def locked(token_id: str, failures: int) -> None:
        raise_alert_now(uow=uow, now=now, actor="system:tokens", new=new_alert(
            "token.pin_locked", f"token {token_id}", AlertLevel.CRITICAL,
            f"signing token {token_id} is locked after {failures} wrong PINs: nothing is "
            "signed with it until an administrator checks who tried and runs "
            f"`bankgate security unlock {token_id}`",
            occurrence=now().isoformat(timespec="seconds")))

    return PinGuard(SqlPinCounterStore(engine), max_failures=max_failures, clock=now,
                    on_locked=locked)


def token_failures(db_url: str, token_id: str) -> int:
    """Consecutive wrong PINs counted for the token."""
    engine = make_engine(db_url)
    try:
        return SqlPinCounterStore(engine).failures(token_id)
    finally:
        engine.dispose()


def unlock_token(db_url: str, token_id: str) -> None:
    """An administrator's unlock: the wrong-PIN count goes back to 0."""
    engine = make_engine(db_url)
    try:
        PinGuard(SqlPinCounterStore(engine)).unlock(token_id)
    finally:
        engine.dispose()


def seal_password_file(path: Path, password: bytes) -> None:
    """Write a key's password file sealed under the master key (0600, atomically), so the
    bank credential is not kept in plain text on disk; `crypto.keyfiles.read_password` opens
    it when the key is loaded."""
    write_atomically(path, seal_password(password).encode("ascii") + b"\n", mode=0o600)
