"""Idempotency-Key records: the key, a hash of the request, and the stored answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from bankgate.store.tables import idempotency_keys

__all__ = ["IdempotencyRepository", "StoredAnswer"]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """What the first request with a key was answered."""

    request_hash: str
    status_code: int
    response: str


class IdempotencyRepository:
    """Idempotency keys per client scope."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, scope: str, key: str) -> StoredAnswer | None:
        """The stored answer for this key, if any."""
        row = self._conn.execute(select(idempotency_keys).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)).first()
        if row is None:
            return None
        return StoredAnswer(row.request_hash, row.status_code, row.response)

    def put(self, scope: str, key: str, answer: StoredAnswer, *, at: datetime) -> None:
        """Store the answer in the caller's transaction; a concurrent twin fails on the key."""
        self._conn.execute(idempotency_keys.insert().values(
            scope=scope, key=key, request_hash=answer.request_hash,
            status_code=answer.status_code, response=answer.response, created_at=at))
