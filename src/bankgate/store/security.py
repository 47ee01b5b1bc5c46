"""Security state that must survive restarts: wrong-PIN counts per signing token (A-12)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from bankgate.errors import StoreError
from bankgate.store.tables_security import token_pin_counters

__all__ = ["SqlPinCounterStore"]


class SqlPinCounterStore:
    """`crypto.pin.PinCounterStore` over the store; each call commits on its own.

    A wrong PIN is counted even when the caller's own transaction rolls back afterwards.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def failures(self, token_id: str) -> int:
        """Consecutive wrong PINs recorded for the token (0 if none)."""
        with self._engine.connect() as conn:
            value = conn.execute(select(token_pin_counters.c.failures)
                                 .where(token_pin_counters.c.token_id == token_id)).scalar()
        return int(value or 0)

    def record_failure(self, token_id: str, at: dt.datetime) -> int:
        """Add one wrong PIN atomically (an UPDATE, or the first INSERT); the new count."""
        for _ in range(3):
            with self._engine.begin() as conn:
                changed = conn.execute(
                    update(token_pin_counters).where(token_pin_counters.c.token_id == token_id)
                    .values(failures=token_pin_counters.c.failures + 1, updated_at=at))
                if changed.rowcount == 0:
                    try:
                        with conn.begin_nested():
                            conn.execute(token_pin_counters.insert().values(
                                token_id=token_id, failures=1, updated_at=at))
                    except IntegrityError:  # a concurrent first failure; count again
                        continue
                return int(conn.execute(
                    select(token_pin_counters.c.failures)
                    .where(token_pin_counters.c.token_id == token_id)).scalar_one())
        raise StoreError(f"could not count a wrong PIN for token {token_id}")

    def reset(self, token_id: str, at: dt.datetime) -> None:
        """Set the count back to 0."""
        with self._engine.begin() as conn:
            conn.execute(update(token_pin_counters)
                         .where(token_pin_counters.c.token_id == token_id)
                         .values(failures=0, updated_at=at))
