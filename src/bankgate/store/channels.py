"""Nonces seen on signed bank messages: remember each once, refuse it the second time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete

from bankgate.store._sql import insert_ignore
from bankgate.store.tables_channels import seen_nonces

__all__ = ["NonceRepository"]


class NonceRepository:
    """A replay guard shared by every process: the database holds the nonces (A-02)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def remember(self, scope: str, nonce: str, *, key_id: str, at: datetime,
                 ttl: timedelta) -> bool:
        """True if `nonce` is new in `scope` (and now remembered); False if seen before.

        Insert-or-ignore on the primary key: two concurrent twins cannot both be new.
        Expired nonces of the scope are purged first, so the table stays small.
        """
        self._conn.execute(delete(seen_nonces).where(seen_nonces.c.scope == scope,
                                                     seen_nonces.c.expires_at < at))
        result = self._conn.execute(insert_ignore(self._conn, seen_nonces).values(
            scope=scope, nonce=nonce, key_id=key_id[:128], seen_at=at, expires_at=at + ttl))
        return bool(result.rowcount == 1)
