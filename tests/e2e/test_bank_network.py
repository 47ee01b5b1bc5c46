"""The line to the bank: cut by a partition (I-12), or the bank slow under load (B-16).

The sandbox bank runs in this process over real mutual TLS; the gateway reaches it through a
loopback TCP proxy (`partition_proxy.py`) that can black-hole the line. Workers run in
threads of the test; every scenario ends with the checker against the bank's own ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bankgate.bootstrap import App, build_app
from bankgate.domain import TERMINAL, Status
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from tests.e2e.harness import check_invariants, gateway_config, orders_of, wait_for
from tests.e2e.partition_proxy import PartitionProxy
from tests.e2e.test_payment_spine import _create, _sound

BANK = "icbc"


@contextmanager
def _workers(app: App, *, count: int = 1, concurrency: int = 2,
             lease_s: float = 5.0) -> Iterator[list[Worker]]:
    """`count` workers, each claiming up to `concurrency` jobs, in threads until the block ends."""
    stop = threading.Event()
    workers = [Worker(app.job_context(), concurrency=concurrency, lease_s=lease_s,
                      owner=f"test-worker-{n}") for n in range(count)]
    threads = [threading.Thread(target=w.run_forever, args=(stop,),
                                kwargs={"idle_sleep_s": 0.05}, name=f"test-worker-{n}")
               for n, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    try:
        yield workers
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for worker in workers:
            worker.close()


def _history(app: App, order_id: str) -> list[str]:
    with app.uow() as unit:
        return [h["to_status"] for h in unit.audit.for_subject(order_id)
                if h["action"] == "order.transition"]


def test_I12_a_partition_after_the_bank_accepted_leaves_orders_unknown_until_it_heals(
        store_url, sandbox, world, payees):
    """I-12 (as B-01): the bank books a batch and the line is cut before its answer comes
    back; the gateway hears nothing (`unknown`), its status queries meet silence and are
    retried with back-off, never a resend and never a new instruction id; when the line
    heals the queries get the bank's word: each order ends as the bank says, booked once."""
    sandbox.set_faults(bank=BANK, script=[{"op": "submit", "fault": "sleep_after_accept"}],
                       sleep_after_accept_s=1.5)  # the answer leaves the bank 1.5 s late
    config = gateway_config(sandbox, world)
    with PartitionProxy((sandbox.host, sandbox.port)) as proxy:
        config["banks"][BANK].update(
            base_url=f"https://127.0.0.1:{proxy.port}/{BANK}/v1",
            timeout_s=3.0, connect_timeout_s=0.5,  # longer than the bank's 1.5 s hold
            max_attempts=2, backoff_s=0.05, backoff_cap_s=0.2)
        app = build_app(Settings(db_url=store_url), config)
        try:
            created = _create(app, _sound(payees, BANK), 4)
            ids = {o.id: o.instruction_id for o in created}

            def booked() -> dict[str, int]:
                return {i: n for i, n in sandbox.ledger.debit_bookings().items()
                        if i in ids.values()}
            with _workers(app):
                wait_for(lambda: len(booked()) == len(ids), 20, "the bank to book the batch")
                proxy.partition()  # its answer is still held at the bank: it is lost
                wait_for(lambda: all(o.status is Status.UNKNOWN for o in orders_of(app)), 20,
                         "the gateway to give up waiting for the answer")
                wait_for(lambda: proxy.held >= 3, 20, "status queries into the partition")
                assert all(o.status is Status.UNKNOWN for o in orders_of(app))
                held_at_heal = proxy.held
                proxy.heal()
                wait_for(lambda: all(o.status in TERMINAL for o in orders_of(app)), 20,
                         "every order to reach the bank's final word")
            orders = orders_of(app)
            assert {o.id: o.instruction_id for o in orders} == ids  # no new id, none lost
            assert booked() == dict.fromkeys(ids.values(), 1)
            for order in orders:
                held = sandbox.ledger.status(BANK, [order.instruction_id])[0]
                assert held is not None and order.status.value == held.status.value
                steps = _history(app, order.id)
                assert steps[steps.index("submitted"):steps.index("unknown") + 1] == [
                    "submitted", "unknown"], steps  # lost answer → unknown, no resend
                assert steps.count("submitted") == 1, steps
            with app.uow() as unit:
                [batch] = {unit.batches.get(o.batch_id) for o in orders if o.batch_id}
            assert batch.send_attempts == 1  # the query decided; the batch was never resent
            # bounded: the status queries that met the partition did not hammer the line
            assert held_at_heal <= 12, held_at_heal
            check_invariants(app, sandbox, orders)
        finally:
            app.close()
