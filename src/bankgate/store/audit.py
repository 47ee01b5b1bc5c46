"""The audit log: append-only rows, one per transition, refusal and decision, hash-chained.

Appends run in the caller's transaction (a transition and its audit record commit together
or not at all, K-16). Each append first locks the one-row `audit_chain_head` FOR UPDATE
(SQLite: the BEGIN IMMEDIATE write lock), so concurrent writers take dense sequence numbers
one after another and every row's `prev_hash` is the hash of the row before it; the lock is
held until the caller commits (docs/adr/0004-audit-chain.md says what that costs).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from bankgate.audit.chain import GENESIS, ChainedRecord, content_bytes, link, link_content
from bankgate.crypto.digest import DigestAlgorithm
from bankgate.domain.audit_records import AuditRecord
from bankgate.store.tables import audit_log
from bankgate.store.tables_security import audit_chain_head

__all__ = ["AuditRepository", "ChainHead", "chain_existing_rows"]

ChainHead = tuple[int, str, DigestAlgorithm]  # last sequence number, its hash, the digest


class AuditRepository:
    """Appends chained audit records in the caller's transaction; reads the chain."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, record: AuditRecord) -> None:
        """Append one record."""
        self.append_many([record])

    def append_many(self, records: Sequence[AuditRecord]) -> None:
        """Append several records, in order, each linked to the one before."""
        if not records:
            return
        seq, previous, algorithm = self._lock_head()
        mysql = self._conn.dialect.name in ("mysql", "mariadb")
        rows = []
        for record in records:
            seq += 1
            row = _to_row(record, seq, mysql=mysql)
            row_hash = link_content(previous, content_bytes(
                seq, row["at"], row["actor"], row["action"], row["subject_kind"],
                row["subject_id"], row["from_status"], row["to_status"], row["detail"]),
                algorithm)
            row["prev_hash"], row["hash"] = previous, row_hash
            rows.append(row)
            previous = row_hash
        self._conn.execute(audit_log.insert(), rows)
        self._conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == 1)
                           .values(seq=seq, hash=previous, updated_at=dt.datetime.now(dt.UTC)))

    def start_chain(self, algorithm: DigestAlgorithm) -> None:
        """Choose the chain's digest; only while the log is empty."""
        if self.count():
            raise ValueError("the audit chain's digest can only be chosen while it is empty")
        self._conn.execute(audit_chain_head.delete())
        self._insert_head(0, GENESIS, algorithm)

    def head(self) -> ChainHead | None:
        """The chain head as recorded (not locked), or None before the first append."""
        row = self._conn.execute(select(audit_chain_head)
                                 .where(audit_chain_head.c.id == 1)).first()
        return (int(row.seq), row.hash, DigestAlgorithm(row.algorithm)) if row else None

    def chain(self, *, after_seq: int = 0, page: int = 5000) -> Iterator[ChainedRecord]:
        """Every record after `after_seq`, ascending, read a page at a time."""
        while True:
            rows = self._conn.execute(select(audit_log).where(audit_log.c.seq > after_seq)
                                      .order_by(audit_log.c.seq).limit(page)).all()
            for row in rows:
                yield _chained(row._mapping, row.prev_hash, row.hash)
            if len(rows) < page:
                return
            after_seq = int(rows[-1].seq)

    def record_at(self, seq: int) -> ChainedRecord | None:
        """The record with sequence number `seq`, if present."""
        row = self._conn.execute(select(audit_log).where(audit_log.c.seq == seq)).first()
        return _chained(row._mapping, row.prev_hash, row.hash) if row else None

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

    def _lock_head(self) -> ChainHead:
        query = select(audit_chain_head).where(audit_chain_head.c.id == 1).with_for_update()
        row = self._conn.execute(query).first()
        if row is None:  # a store whose head row was removed (tests truncate): rebuild it
            last = self._conn.execute(select(audit_log.c.seq, audit_log.c.hash)
                                      .order_by(audit_log.c.seq.desc()).limit(1)).first()
            try:
                with self._conn.begin_nested():
                    self._insert_head(int(last.seq) if last else 0,
                                      (last.hash or GENESIS) if last else GENESIS,
                                      DigestAlgorithm.SHA256)
            except IntegrityError:  # another writer made it first; lock theirs
                pass
            row = self._conn.execute(query).one()
        return int(row.seq), row.hash, DigestAlgorithm(row.algorithm)

    def _insert_head(self, seq: int, head_hash: str, algorithm: DigestAlgorithm) -> None:
        self._conn.execute(audit_chain_head.insert().values(
            id=1, seq=seq, hash=head_hash, algorithm=str(algorithm),
            updated_at=dt.datetime.now(dt.UTC)))


def chain_existing_rows(conn: Connection) -> None:
    """Number the rows already in the log densely and chain them (migration 0004)."""
    seq, previous = 0, GENESIS
    old_seqs = [int(s) for s in conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq))
                .scalars()]
    for old in old_seqs:
        seq += 1
        if old != seq:  # ascending, so the smaller number is always free
            conn.execute(update(audit_log).where(audit_log.c.seq == old).values(seq=seq))
        row = conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()
        row_hash = link(previous, _chained(row._mapping, previous, None))
        conn.execute(update(audit_log).where(audit_log.c.seq == seq)
                     .values(prev_hash=previous, hash=row_hash))
        previous = row_hash
    conn.execute(audit_chain_head.insert().values(
        id=1, seq=seq, hash=previous, algorithm=str(DigestAlgorithm.SHA256),
        updated_at=dt.datetime.now(dt.UTC)))


def _chained(row: Any, prev_hash: str | None, row_hash: str | None) -> ChainedRecord:
    at = row["at"]
    if at.tzinfo is None:  # read back by a raw connection (the migration)
        at = at.replace(tzinfo=dt.UTC)
    return ChainedRecord(seq=int(row["seq"]), at=at, actor=row["actor"],
                         action=row["action"], subject_kind=row["subject_kind"],
                         subject_id=row["subject_id"], from_status=row["from_status"],
                         to_status=row["to_status"], detail=row["detail"],
                         prev_hash=prev_hash, hash=row_hash)


def _to_row(record: AuditRecord, seq: int, *, mysql: bool) -> dict[str, Any]:
    at = record.at if record.at.tzinfo is dt.UTC else record.at.astimezone(dt.UTC)
    if mysql:  # DATETIME keeps whole seconds (and rounds); hash what is stored
        at = at.replace(microsecond=0)
    return {"seq": seq, "at": at, "actor": record.actor[:80], "action": record.action,
            "subject_kind": record.subject_kind, "subject_id": record.subject_id,
            "from_status": record.from_status, "to_status": record.to_status,
            "detail": json.dumps(dict(record.detail), sort_keys=True, ensure_ascii=False,
                                 default=str)}
