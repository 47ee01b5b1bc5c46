"""A real PostgreSQL restart of a private server (tests/store/pg_private.py), mid-work.

RELIABILITY.md I-01: the server restarts while a transition's transaction is open → that
transaction is rolled back, run again (by `in_transaction`, or the job by the queue), and
takes effect once. I-02: the server goes down while workers hold job claims → the claims
outlive it and come back only when their leases end; no job runs twice at once; the fence
keeps a late result out; every job completes once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from bankgate.bootstrap import App, build_app
from bankgate.domain import PaymentOrder, Status
from bankgate.services._tx import in_transaction
from bankgate.services.audit import verify_chain
from bankgate.services.payments import cancel_order, create_orders
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from bankgate.store import ClaimedJob, NewJob, UnitOfWork, make_engine
from bankgate.store.queue import JobQueue
from tests.builders import NOW, a_draft
from tests.store.pg_private import PrivatePostgres

CONFIG = {"accounts": [{"id": "acc-icbc", "bank": "icbc", "number": "6222020200001000001",
                        "currency": "CNY", "name": "示例科技有限公司"}],
          "policy": "straight-through"}


@pytest.fixture
def clock() -> list[datetime]:
    return [NOW]


@pytest.fixture
def app(private_pg: PrivatePostgres, clock: list[datetime]) -> Iterator[App]:
    application = build_app(Settings(db_url=private_pg.url), CONFIG)
    application.now = lambda: clock[0]
    yield application
    application.close()


@contextmanager
def _before_first(engine: Engine, statement: str, fault: Callable[[], None]
                  ) -> Iterator[list[str]]:
    """Run `fault` once, just before the first SQL statement that starts with `statement` is
    sent: its transaction is open and has written everything before it. Yields every
    statement sent meanwhile."""
    sent: list[str] = []

    def before(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        sent.append(sql)
        if sum(s.startswith(statement) for s in sent) == 1 and sql.startswith(statement):
            fault()

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _transitions(unit: UnitOfWork, order_id: str) -> list[tuple[str | None, str | None]]:
    return [(r["from_status"], r["to_status"]) for r in unit.audit.for_subject(order_id)
            if r["action"] == "order.transition"]


def _orders(app: App, n: int) -> list[PaymentOrder]:
    return create_orders(uow=app.uow, drafts=[a_draft() for _ in range(n)], actor="user:alice",
                         now=app.now, source="test")


def test_I01_a_restart_inside_a_cancel_rolls_it_back_and_runs_it_again_once(
        app: App, private_pg: PrivatePostgres) -> None:
    """`pg_ctl restart -m fast` after the order's UPDATE, before its audit INSERT: the server
    cuts the open transaction, `in_transaction` runs it again whole on a fresh connection."""
    [order] = _orders(app, 1)
    with _before_first(app.engine, "INSERT INTO audit_log", private_pg.restart) as sent:
        cancelled = cancel_order(uow=app.uow, order_id=order.id, actor="user:alice",
                                 now=app.now)
    assert private_pg.outages == 1
    assert sum(s.startswith("UPDATE payment_orders") for s in sent) == 2  # cut, then again
    assert cancelled.status is Status.CANCELLED and cancelled.version == order.version + 1
    with app.uow() as unit:
        stored = unit.orders.get(order.id)
        history = _transitions(unit, order.id)
    assert (stored.status, stored.version) == (Status.CANCELLED, order.version + 1)
    assert history[-2:] == [("approved", "released"), ("released", "cancelled")]
    assert history.count(("released", "cancelled")) == 1
    assert verify_chain(uow=app.uow).broken is None


def test_I01_a_restart_as_the_cancel_commits_is_not_run_again_blindly(
        app: App, private_pg: PrivatePostgres) -> None:
    """The connection is lost at COMMIT: whether the commit landed cannot be known from
    here, so `in_transaction` does not run the work again; the caller gets the error. Here
    the restart came first, so nothing landed, and the caller's own retry cancels once."""
    [order] = _orders(app, 1)

    def at_commit(conn: Any) -> None:
        if private_pg.outages == 0:
            private_pg.restart()

    event.listen(app.engine, "commit", at_commit)
    try:
        with pytest.raises(DBAPIError) as lost:
            cancel_order(uow=app.uow, order_id=order.id, actor="user:alice", now=app.now)
    finally:
        event.remove(app.engine, "commit", at_commit)
    assert lost.value.connection_invalidated
    with app.uow() as unit:
        assert unit.orders.get(order.id).status is Status.RELEASED
        assert ("released", "cancelled") not in _transitions(unit, order.id)
    cancel_order(uow=app.uow, order_id=order.id, actor="user:alice", now=app.now)
    with app.uow() as unit:
        assert _transitions(unit, order.id).count(("released", "cancelled")) == 1
    assert verify_chain(uow=app.uow).broken is None


def test_I01_a_store_down_inside_the_batching_job_leaves_nothing_and_the_job_runs_again_once(
        app: App, private_pg: PrivatePostgres, clock: list[datetime]) -> None:
    """The server stops (`-m fast`) inside the job's transaction, after the batch, the
    orders' batch ids and the audit record were written, before the dispatch job (the
    outbox); it is down for a second, so neither the rerun nor the job's own settling can
    reach it. The transaction is rolled back; the job, still leased, runs again when its
    lease ends and forms the batch once, with its dispatch job."""
    orders = _orders(app, 3)
    worker = Worker(app.job_context(), concurrency=1, lease_s=5)
    back = threading.Timer(1.0, private_pg.start)

    def outage() -> None:
        private_pg.stop("fast")
        back.start()

    try:
        with _before_first(app.engine, "INSERT INTO jobs", outage):
            with pytest.raises(DBAPIError):  # run_forever logs it and goes on
                worker.run_once()
        back.join()
        with app.uow() as unit:
            assert unit.batches.list() == []
            assert all(unit.orders.get(o.id).batch_id is None for o in orders)
            assert unit.audit.count("batch.formed") == 0
            [job] = unit.jobs.list()
            assert (job["kind"], job["state"], job["attempts"]) == ("form_batches", "running", 1)
        clock[0] = NOW + timedelta(seconds=4)
        assert worker.run_once() == 0  # still leased: nobody takes it early
        clock[0] = NOW + timedelta(seconds=6)
        assert worker.run_once() == 1
    finally:
        worker.close()
    with app.uow() as unit:
        [batch] = unit.batches.list()
        assert {unit.orders.get(o.id).batch_id for o in orders} == {batch["id"]}
        assert unit.audit.count("batch.formed") == 1
        jobs = {j["kind"]: j for j in unit.jobs.list()}
        assert unit.jobs.counts() == {"done": 1, "queued": 1}
    assert (jobs["form_batches"]["state"], jobs["form_batches"]["attempts"]) == ("done", 2)
    assert jobs["dispatch"]["payload"] == f'{{"batch_id": "{batch["id"]}"}}'
    assert private_pg.outages == 1
    assert verify_chain(uow=app.uow).broken is None


LEASE_S, WORK_S, OUTAGE_S, JOBS = 2.0, 0.2, 1.5, 24  # runs well inside their leases


@dataclass
class _Run:
    """One holder's run of one job, as the worker saw it."""

    job: ClaimedJob
    claimed_at: datetime
    started: float
    ended: float = 0.0
    kept: bool | None = None  # its result: recorded (True), refused by the fence (False)
    failed: bool = False  # a delivery of its result failed (the store was down)


class _Workers:
    """Three workers (each its own engine, as separate processes would be) run jobs that
    take `WORK_S`; `w0` is the slow one: a result it could not deliver it sends only after
    another worker took the job over."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runs: list[_Run] = []
        self.lock = threading.Lock()
        self.w0_third = threading.Event()  # w0 is inside its third job
        self.down = threading.Event()  # the store is down: w0's third job may end
        self.deadline = time.monotonic() + 15

    def run(self, name: str) -> None:
        engine = make_engine(self.url, pool_size=2)
        try:
            while time.monotonic() < self.deadline and not self._all_done(engine):
                now = datetime.now(UTC)
                claimed = self._try(engine, lambda q, now=now: q.claim(
                    owner=name, now=now, lease_s=LEASE_S))
                if not claimed:
                    time.sleep(0.05)
                    continue
                self._work(engine, name, _Run(claimed[0], now, time.monotonic()))
        finally:
            engine.dispose()

    def _work(self, engine: Engine, name: str, run: _Run) -> None:
        with self.lock:
            self.runs.append(run)
            third = name == "w0" and sum(r.job.owner == "w0" for r in self.runs) == 3
        if third:
            self.w0_third.set()
        time.sleep(WORK_S)
        if third:
            self.down.wait(10)  # its result is due while the store is down
        run.ended = time.monotonic()
        while time.monotonic() < self.deadline:
            if name == "w0" and run.failed:
                self._wait_taken_over(run)
            kept = self._try(engine, lambda q: q.complete(run.job, now=datetime.now(UTC)))
            if kept is not None:
                run.kept = kept
                return
            run.failed = True
            time.sleep(0.1)

    def _wait_taken_over(self, run: _Run) -> None:
        while time.monotonic() < self.deadline:
            with self.lock:
                if any(r.job.id == run.job.id and r.job.fence > run.job.fence
                       for r in self.runs):
                    return
            time.sleep(0.05)

    @staticmethod
    def _try(engine: Engine, step: Callable[[JobQueue], Any]) -> Any:
        """One transaction, or None while the store is down (the worker loop goes on)."""
        try:
            return in_transaction(lambda: UnitOfWork(engine), lambda unit: step(unit.jobs))
        except DBAPIError:
            return None

    def _all_done(self, engine: Engine) -> bool:
        counts = self._try(engine, lambda q: q.counts())
        return counts == {"done": JOBS}


def test_I02_claims_outlive_a_store_crash_and_come_back_only_by_lease_expiry_each_job_done_once(
        private_pg: PrivatePostgres) -> None:
    """Three workers run 24 jobs; while `w0` is inside its third job the server is stopped
    with `-m immediate` (a crash: it recovers on start) for 1.5 s.
    Results that could not be delivered come back as jobs only when their leases end; the
    one `w0` sends after another worker took its job over is refused; every job is done by
    exactly one accepted result and no two runs of a job overlap."""
    engine = make_engine(private_pg.url)
    with UnitOfWork(engine) as unit:
        unit.jobs.enqueue_many([NewJob("poll_status", {"n": n}) for n in range(JOBS)],
                               now=datetime.now(UTC))
        unit.commit()
    workers = _Workers(private_pg.url)
    threads = [threading.Thread(target=workers.run, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    assert workers.w0_third.wait(10)
    private_pg.stop("immediate")
    workers.down.set()
    time.sleep(OUTAGE_S)
    private_pg.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)
    with UnitOfWork(engine) as unit:
        assert unit.jobs.counts() == {"done": JOBS}
        rows = {row["id"]: row for row in unit.jobs.list(limit=JOBS)}
    engine.dispose()
    by_job: dict[int, list[_Run]] = {}
    for run in workers.runs:
        by_job.setdefault(run.job.id, []).append(run)
    assert sorted(by_job) == sorted(rows)
    for job_id, runs in by_job.items():
        runs.sort(key=lambda r: r.job.fence)
        assert [r.job.fence for r in runs] == list(range(1, len(runs) + 1))
        assert [r.kept for r in runs].count(True) == 1, (job_id, runs)
        for earlier, later in itertools.pairwise(runs):
            # taken back only once the lease had ended, never while the holder still ran
            assert later.claimed_at >= earlier.claimed_at + timedelta(seconds=LEASE_S)
            assert later.started >= earlier.ended
        assert (rows[job_id]["fence"], rows[job_id]["attempts"]) == (len(runs), len(runs))
    late = [r for r in workers.runs if r.job.owner == "w0" and r.kept is False]
    assert late, "w0's result delivered after the takeover must be refused by the fence"
    assert private_pg.outages == 1
