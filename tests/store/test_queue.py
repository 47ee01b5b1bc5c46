"""The job queue and outbox on every store: claims, leases, fences, dedupe.

RELIABILITY.md: K-05, K-06, K-17, I-05, INV-6.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from bankgate.store import NewJob, UnitOfWork, make_engine
from tests.builders import NOW


def _queue_job(engine, job: NewJob) -> None:
    with UnitOfWork(engine) as uow:
        uow.jobs.enqueue(job, now=NOW)
        uow.commit()


def _claim(engine, owner: str, *, at=NOW, lease_s: float = 30, limit: int = 1):
    with UnitOfWork(engine) as uow:
        claimed = uow.jobs.claim(owner=owner, now=at, lease_s=lease_s, limit=limit)
        uow.commit()
    return claimed


def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(any_store_url):
    """INV-6: no job exists for a rolled-back change."""
    engine = make_engine(any_store_url)
    with UnitOfWork(engine) as uow:
        uow.jobs.enqueue(NewJob("dispatch", {"batch_id": "B1"}), now=NOW)
        # leaving without commit rolls back
    with UnitOfWork(engine) as uow:
        assert uow.jobs.pending() == 0
    engine.dispose()


def test_a_waiting_dedupe_key_is_enqueued_once_and_freed_when_claimed(any_store_url):
    engine = make_engine(any_store_url)
    job = NewJob("form_batches", {}, dedupe_key="form_batches")
    _queue_job(engine, job)
    _queue_job(engine, job)
    with UnitOfWork(engine) as uow:
        assert uow.jobs.pending() == 1
    assert len(_claim(engine, "w1")) == 1
    _queue_job(engine, job)  # the running job no longer holds the key
    with UnitOfWork(engine) as uow:
        assert uow.jobs.pending() == 2
    engine.dispose()


def test_a_crashed_workers_job_is_claimed_again_after_its_lease_and_its_late_result_refused(
    any_store_url,
):
    """K-06, K-17: the lease expires, another worker takes the job, the zombie is fenced off."""
    engine = make_engine(any_store_url)
    _queue_job(engine, NewJob("dispatch", {"batch_id": "B1"}))
    [first] = _claim(engine, "w1", lease_s=10)
    assert _claim(engine, "w2", at=NOW + timedelta(seconds=5)) == []
    [second] = _claim(engine, "w2", at=NOW + timedelta(seconds=11))
    assert second.id == first.id and second.fence == first.fence + 1
    with UnitOfWork(engine) as uow:
        assert uow.jobs.complete(first, now=NOW) is False  # zombie refused
        assert uow.jobs.complete(second, now=NOW) is True
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert uow.jobs.counts() == {"done": 1}
    engine.dispose()


def test_jobs_that_keep_losing_their_worker_are_buried_not_run_forever(any_store_url):
    engine = make_engine(any_store_url)
    _queue_job(engine, NewJob("dispatch", {"batch_id": "B1"}, max_attempts=2))
    at = NOW
    for _ in range(2):
        assert len(_claim(engine, "w", at=at, lease_s=1)) == 1
        at += timedelta(seconds=2)
    assert _claim(engine, "w", at=at) == []
    with UnitOfWork(engine) as uow:
        assert uow.jobs.counts() == {"dead": 1}
    engine.dispose()


def test_racing_workers_claim_each_job_exactly_once(any_store_url):
    """I-05: eight threads race for 200 jobs; every job is claimed by exactly one of them."""
    engine = make_engine(any_store_url, pool_size=10)
    with UnitOfWork(engine) as uow:
        uow.jobs.enqueue_many([NewJob("poll_status", {"n": n}) for n in range(200)], now=NOW)
        uow.commit()
    seen: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        from bankgate.services._tx import in_transaction

        while True:
            got = in_transaction(
                lambda: UnitOfWork(engine),
                lambda u: u.jobs.claim(owner=name, now=NOW, lease_s=60, limit=3),
            )
            if not got:
                return
            with lock:
                seen.extend(j.id for j in got)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(seen) == 200 and len(set(seen)) == 200
    engine.dispose()


def test_a_job_waiting_for_a_person_never_dies_of_its_attempts(any_store_url):
    """A dispatch that waits for a renewed certificate (I-10) retries uncounted: after more
    waits than it has attempts it is still queued; a counted retry then buries it."""
    engine = make_engine(any_store_url)
    _queue_job(engine, NewJob("dispatch", {"batch_id": "B1"}, max_attempts=2))
    at = NOW
    for _ in range(5):
        [job] = _claim(engine, "w1", at=at)
        with UnitOfWork(engine) as uow:
            assert uow.jobs.retry(job, now=at, delay_s=1, error="certificate expired",
                                  counted=False)
            uow.commit()
        at += timedelta(seconds=2)
    with UnitOfWork(engine) as uow:
        assert uow.jobs.counts() == {"queued": 1}
    for _ in range(2):
        [job] = _claim(engine, "w1", at=at)
        with UnitOfWork(engine) as uow:
            uow.jobs.retry(job, now=at, delay_s=1, error="bank busy")
            uow.commit()
        at += timedelta(seconds=2)
    with UnitOfWork(engine) as uow:
        assert uow.jobs.counts() == {"dead": 1}
    engine.dispose()
