"""Signing-token administration: the gateway's PIN lockout (A-12) seen and undone."""

from __future__ import annotations

from bankgate.crypto.pin import PinGuard
from bankgate.store import make_engine
from bankgate.store.security import SqlPinCounterStore

__all__ = ["token_failures", "unlock_token"]


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
