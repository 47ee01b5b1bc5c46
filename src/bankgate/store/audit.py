"""The audit log: append-only rows, one per transition, refusal and decision."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from bankgate.domain.audit_records import AuditRecord
from bankgate.store.tables import audit_log

__all__ = ["AuditRepository"]


class AuditRepository:
    """Appends audit records in the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, record: AuditRecord) -> None:
        """Append one record."""
        self.append_many([record])

    def append_many(self, records: Sequence[AuditRecord]) -> None:
        """Append several records, in order."""
        if records:
            self._conn.execute(audit_log.insert(), [_to_row(r) for r in records])

    def for_subject(self, subject_id: str) -> list[dict[str, Any]]:
        """Every record about one subject, oldest first."""
        rows = self._conn.execute(select(audit_log).where(audit_log.c.subject_id == subject_id)
                                  .order_by(audit_log.c.seq))
        return [{**r._mapping, "detail": json.loads(r.detail)} for r in rows]

    def count(self, action: str | None = None) -> int:
        """How many records (of one action, if given)."""
        query = select(func.count()).select_from(audit_log)
        if action:
            query = query.where(audit_log.c.action == action)
        return int(self._conn.execute(query).scalar_one())


def _to_row(record: AuditRecord) -> dict[str, Any]:
    return {"at": record.at, "actor": record.actor[:80], "action": record.action,
            "subject_kind": record.subject_kind, "subject_id": record.subject_id,
            "from_status": record.from_status, "to_status": record.to_status,
            "detail": json.dumps(dict(record.detail), sort_keys=True, ensure_ascii=False,
                                 default=str)}
