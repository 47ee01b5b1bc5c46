"""Recurring jobs (sync, file collection) and `worker --until-idle` (K-14, B-17, B-18)."""

from __future__ import annotations

import time

from bankgate.services.collect_job import schedule_collect
from bankgate.services.files import transfer_counts
from bankgate.services.sync import schedule_sync
from bankgate.services.worker import Worker
from bankgate.store import NewJob
from tests.services.finance_world import *  # noqa: F403  (the fixtures)


def _jobs(app, kind):
    with app.uow() as unit:
        return [j for j in unit.jobs.list(limit=1000) if j["kind"] == kind]


def test_until_idle_returns_while_recurring_jobs_wait_for_their_next_time(gateway):
    schedule_sync(uow=gateway.uow, channels=gateway.channels, config=gateway.finance.sync,
                  now=gateway.now)
    worker = Worker(gateway.job_context(), concurrency=2)
    started = time.monotonic()
    try:
        assert worker.run_until_idle(timeout_s=10) is True
    finally:
        worker.close()
    assert time.monotonic() - started < 5
    with gateway.uow() as unit:
        assert unit.jobs.pending("sync") == 6  # still scheduled, not run


def test_until_idle_waits_for_a_follow_up_that_is_not_recurring(gateway):
    with gateway.uow() as unit:
        unit.jobs.enqueue(NewJob("form_batches", {}, delay_s=0.3), now=gateway.now())
        unit.commit()
    worker = Worker(gateway.job_context(), concurrency=1)
    try:
        assert worker.run_until_idle(timeout_s=10) is True
    finally:
        worker.close()
    assert worker.stats.done == 1 and _jobs(gateway, "form_batches")[0]["state"] == "done"


def test_the_file_collector_job_collects_the_file_bank_and_queues_its_next_run(file_gateway):
    gateway = file_gateway
    queued = schedule_collect(uow=gateway.uow, channels=gateway.channels, now=gateway.now)
    again = schedule_collect(uow=gateway.uow, channels=gateway.channels, now=gateway.now)
    assert queued == again == 1  # one file bank (boc); the dedupe key keeps one waiting
    worker = Worker(gateway.job_context(), concurrency=1)
    try:
        assert worker.run_until_idle(timeout_s=20) is True
    finally:
        worker.close()
    done, waiting = sorted(_jobs(gateway, "collect_files"), key=lambda j: j["id"])
    assert done["state"] == "done" and worker.stats.done == 1
    assert waiting["state"] == "queued" and waiting["dedupe_key"] == "collect_files:boc"
    assert (waiting["run_after"] - done["updated_at"]).total_seconds() > 60  # collect_every_s
    counts = transfer_counts(uow=gateway.uow, bank="boc")["in"]
    assert counts.get("camt.053 processed", 0) >= 1  # the bank's end-of-day statements
