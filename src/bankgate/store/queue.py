"""The job queue and transactional outbox: a job commits with the change that causes it.

Claiming: on PostgreSQL and MariaDB `SELECT ... FOR UPDATE SKIP LOCKED`, so any number of
worker processes take disjoint jobs; on SQLite the BEGIN IMMEDIATE write lock serialises
claims. A claim leases the job until `lease_until` and bumps its `fence`; a worker that died
(or stalled past its lease) loses the job to the next claimer, and its late `complete` or
`retry` is refused because the fence moved on (K-06, K-17). A `dedupe_key` is held only while
the job waits, so a change made while the job runs enqueues a fresh one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, true, update

from bankgate.store._sql import dialect, insert_ignore
from bankgate.store.tables import jobs

__all__ = ["ClaimedJob", "JobQueue", "NewJob"]

_j = jobs.c


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to enqueue."""

    kind: str
    payload: Mapping[str, Any]
    dedupe_key: str | None = None
    delay_s: float = 0.0
    max_attempts: int = 25


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker holds until its lease ends."""

    id: int
    kind: str
    payload: Mapping[str, Any]
    attempts: int
    max_attempts: int
    fence: int
    owner: str


class JobQueue:
    """Jobs in the store, claimed with leases and fenced on completion."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def enqueue(self, job: NewJob, *, now: datetime) -> None:
        """Add a job in the caller's transaction (skipped if its dedupe key is waiting)."""
        self.enqueue_many([job], now=now)

    def enqueue_many(self, new: Sequence[NewJob], *, now: datetime) -> None:
        """Add several jobs in the caller's transaction."""
        rows = [{"kind": j.kind, "payload": json.dumps(j.payload, sort_keys=True),
                 "dedupe_key": j.dedupe_key, "state": "queued",
                 "run_after": now + timedelta(seconds=j.delay_s), "attempts": 0,
                 "max_attempts": j.max_attempts, "fence": 0, "created_at": now,
                 "updated_at": now} for j in new]
        if rows:
            self._conn.execute(insert_ignore(self._conn, jobs), rows)

    def claim(self, *, owner: str, now: datetime, lease_s: float, limit: int = 1,
              kinds: Sequence[str] | None = None) -> list[ClaimedJob]:
        """Take up to `limit` due jobs (or jobs whose lease expired) for `owner`."""
        due = or_(and_(_j.state == "queued", _j.run_after <= now),
                  and_(_j.state == "running", _j.lease_until < now))
        query = (select(_j.id, _j.kind, _j.payload, _j.attempts, _j.max_attempts, _j.fence)
                 .where(due).order_by(_j.run_after, _j.id).limit(limit))
        if kinds:
            query = query.where(_j.kind.in_(kinds))
        if dialect(self._conn) != "sqlite":
            query = query.with_for_update(skip_locked=True)
        claimed: list[ClaimedJob] = []
        for row in self._conn.execute(query).all():
            if row.attempts >= row.max_attempts:
                self._set(row.id, row.fence, now, state="dead", dedupe_key=None,
                          last_error="gave up: attempts exhausted (last holder lost its lease)")
                continue
            lease_until = now + timedelta(seconds=lease_s)
            self._conn.execute(update(jobs).where(_j.id == row.id).values(
                state="running", fence=row.fence + 1, attempts=row.attempts + 1,
                lease_owner=owner[:80], lease_until=lease_until, dedupe_key=None,
                updated_at=now))
            claimed.append(ClaimedJob(row.id, row.kind, json.loads(row.payload),
                                      row.attempts + 1, row.max_attempts, row.fence + 1, owner))
        return claimed

    def complete(self, job: ClaimedJob, *, now: datetime) -> bool:
        """Mark done; False when the lease was lost to another worker (fence moved)."""
        return self._set(job.id, job.fence, now, state="done", lease_owner=None,
                         lease_until=None)

    def retry(self, job: ClaimedJob, *, now: datetime, delay_s: float, error: str,
              counted: bool = True) -> bool:
        """Put the job back to run after `delay_s`, or bury it when attempts are exhausted.

        `counted=False` (the job waits for a person, e.g. a certificate to be renewed) gives
        back the attempt its claim took, so waiting never exhausts the job.
        """
        if counted and job.attempts >= job.max_attempts:
            return self.bury(job, now=now, error=error)
        attempts = {} if counted else {"attempts": max(0, job.attempts - 1)}
        return self._set(job.id, job.fence, now, state="queued", lease_owner=None,
                         lease_until=None, last_error=error[:2000],
                         run_after=now + timedelta(seconds=delay_s), **attempts)

    def bury(self, job: ClaimedJob, *, now: datetime, error: str) -> bool:
        """Give up on the job; it stays for a person to see (`state = dead`)."""
        return self._set(job.id, job.fence, now, state="dead", lease_owner=None,
                         lease_until=None, last_error=error[:2000])

    def counts(self) -> dict[str, int]:
        """Jobs per state."""
        rows = self._conn.execute(select(_j.state, func.count()).group_by(_j.state))
        return {state: count for state, count in rows}

    def pending(self, kind: str | None = None) -> int:
        """Jobs queued or running (of one kind, if given)."""
        query = select(func.count()).where(_j.state.in_(("queued", "running")))
        if kind:
            query = query.where(_j.kind == kind)
        return int(self._conn.execute(query).scalar_one())

    def busy(self, *, now: datetime, scheduled: Sequence[str] = ()) -> int:
        """Jobs running, due now, or queued for later unless of a `scheduled` (recurring)
        kind: a recurring job waiting for its next time is not work left to do."""
        later = _j.kind.not_in(scheduled) if scheduled else true()
        query = select(func.count()).where(or_(
            _j.state == "running",
            and_(_j.state == "queued", or_(_j.run_after <= now, later))))
        return int(self._conn.execute(query).scalar_one())

    def hurry(self, dedupe_key: str, *, now: datetime) -> int:
        """Make the job waiting under `dedupe_key` due now; how many were moved (0 or 1)."""
        result = self._conn.execute(update(jobs).where(
            _j.dedupe_key == dedupe_key, _j.state == "queued", _j.run_after > now)
            .values(run_after=now, updated_at=now))
        return int(result.rowcount)

    def next_due(self) -> datetime | None:
        """When the earliest queued job becomes due."""
        return self._conn.execute(
            select(func.min(_j.run_after)).where(_j.state == "queued")).scalar()

    def list(self, *, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Jobs, newest first."""
        query = select(jobs).order_by(_j.id.desc()).limit(limit)
        if state:
            query = query.where(_j.state == state)
        return [dict(r._mapping) for r in self._conn.execute(query)]

    def _set(self, job_id: int, fence: int, now: datetime, **values: Any) -> bool:
        result = self._conn.execute(update(jobs).where(_j.id == job_id, _j.fence == fence)
                                    .values(updated_at=now, **values))
        return result.rowcount == 1
