"""The worker: claim due jobs, run them, settle each (done, retry later, or bury).

One in-process worker on SQLite; on PostgreSQL any number of worker processes, each claiming
with SKIP LOCKED and a lease (store/queue.py). A job's effects are guarded by the state of the
rows it changes, so a job that runs again after a crash finds its work done or resumes it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bankgate.logmask import install_log_masking
from bankgate.services._tx import RetryLater, in_transaction
from bankgate.services.jobs import RECURRING, JobContext, run_job
from bankgate.store import ClaimedJob, UnitOfWork

__all__ = ["Worker", "WorkerStats"]

log = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    """What a worker has done so far."""

    done: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0


class Worker:
    """Runs jobs from the store until told to stop (or until there is nothing left to do)."""

    def __init__(self, ctx: JobContext, *, concurrency: int = 4, lease_s: float = 60.0,
                 owner: str | None = None) -> None:
        install_log_masking()  # INV-7: job logs (httpx URLs) name no full account
        self.ctx = ctx
        self.concurrency = max(1, concurrency)
        self.lease_s = lease_s
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stats = WorkerStats()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="bankgate-job")

    def close(self) -> None:
        """Stop the thread pool (after the jobs in hand finish)."""
        self._pool.shutdown(wait=True)

    def run_once(self) -> int:
        """Claim up to `concurrency` due jobs and run them; returns how many ran."""
        claimed = in_transaction(self.ctx.uow, lambda unit: unit.jobs.claim(
            owner=self.owner, now=self.ctx.now(), lease_s=self.lease_s,
            limit=self.concurrency))
        if not claimed:
            return 0
        if len(claimed) == 1:
            self._run(claimed[0])
        else:
            list(self._pool.map(self._run, claimed))
        return len(claimed)

    def run_until_idle(self, *, timeout_s: float = 60.0,
                       on_tick: Callable[[], None] | None = None) -> bool:
        """Run jobs until none is due, running or following up (a recurring job waiting for
        its next time does not count); False if `timeout_s` passed first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ran = self.run_once()
            if on_tick is not None:
                on_tick()
            if ran:
                continue
            with self.ctx.uow() as unit:
                pending = unit.jobs.busy(now=self.ctx.now(), scheduled=sorted(RECURRING))
            if pending == 0:
                return True
            time.sleep(0.02)
        return False

    def run_forever(self, stop: threading.Event, *, idle_sleep_s: float = 0.1) -> None:
        """Run jobs until `stop` is set."""
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the outermost edge: log, breathe, go on
                log.exception("worker loop failed; continuing")
                ran = 0
            if not ran:
                stop.wait(idle_sleep_s)

    def _run(self, job: ClaimedJob) -> None:
        try:
            outcome = run_job(self.ctx, job.kind, job.payload)
        except RetryLater as later:
            self._settle(job, "retry" if later.counted else "wait", later.reason,
                         later.delay_s)
            return
        except Exception as exc:  # the outermost edge for one job
            log.exception("job failed", extra={"job": job.id, "kind": job.kind})
            delay = min(60.0, 0.5 * 2 ** min(job.attempts, 7))
            self._settle(job, "retry", f"{type(exc).__name__}: {exc}", delay)
            return
        log.debug("job done", extra={"job": job.id, "kind": job.kind, "outcome": outcome})
        self._settle(job, "done", outcome, 0.0)

    def _settle(self, job: ClaimedJob, how: str, note: str, delay_s: float) -> None:
        def work(unit: UnitOfWork) -> bool:
            now = self.ctx.now()
            if how == "done":
                return unit.jobs.complete(job, now=now)
            return unit.jobs.retry(job, now=now, delay_s=delay_s, error=note,
                                   counted=how == "retry")

        kept = in_transaction(self.ctx.uow, work)
        if not kept:
            self.stats.lost += 1
            log.warning("job lease lost to another worker; its result was not recorded",
                        extra={"job": job.id, "kind": job.kind})
        elif how == "done":
            self.stats.done += 1
        else:
            self.stats.retried += 1
