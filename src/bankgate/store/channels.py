"""Nonces seen on signed bank messages: remember each once, refuse it the second time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete

from bankgate.store._sql import dialect, insert_ignore
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
        insert = insert_ignore(self._conn, seen_nonces).values(
            scope=scope, nonce=nonce, key_id=key_id[:128], seen_at=at, expires_at=at + ttl)
        if dialect(self._conn) == "mysql":  # INSERT IGNORE counts the rows it wrote
            return bool(self._conn.execute(insert).rowcount == 1)
        # ON CONFLICT DO NOTHING: a row comes back only when it was inserted (psycopg
        # reports no row count for it).
        return self._conn.execute(insert.returning(seen_nonces.c.nonce)).first() is not None
