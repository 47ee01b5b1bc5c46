"""K-18: the sandbox bank's own process is SIGKILLed mid-batch and started again on its books.

The banks run as `bankgate sandbox --ledger FILE` (a real process, real mTLS), the gateway's
worker in a thread of the test; the checker reads the bank's ledger file afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from bankgate.bootstrap import App, build_app
from bankgate.domain import TERMINAL, Status
from bankgate.sandbox.demo_world import demo_payees, demo_world
from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.ledger_file import LedgerFile
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from tests.e2e.harness import check_invariants, orders_of, wait_for
from tests.e2e.test_payment_spine import _create, _sound

BANKS = ("icbc", "boc")  # host API banks; cmb's front-end processor is not part of this
SEED = 7  # `bankgate sandbox`'s default demo world


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bank_process(directory: Path, port: int, ledger: Path) -> tuple[subprocess.Popen[bytes],
                                                                     dict[str, Any]]:
    """`bankgate sandbox` on `port` with its books in `ledger`; its `sandbox.json` once up."""
    proc = subprocess.Popen([sys.executable, "-m", "bankgate", "sandbox", "--dir", str(directory),
                             "--port", str(port), "--seed", str(SEED), "--settle-delay-s", "0.2",
                             "--ledger", str(ledger)],
                            env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    announced = directory / "sandbox.json"

    def up() -> bool:  # a killed bank leaves its sandbox.json behind: wait for this one's
        try:
            return bool(json.loads(announced.read_text(encoding="utf-8"))["pid"] == proc.pid)
        except (OSError, ValueError, KeyError):
            return proc.poll() is not None
    wait_for(up, 30, "the sandbox bank to start")
    assert proc.poll() is None, "the sandbox bank exited"
    return proc, json.loads(announced.read_text(encoding="utf-8"))


def _admin(state: dict[str, Any], method: str, route: str,
           body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sandbox's /_sandbox endpoints (mutual TLS, no request signature)."""
    tls = ssl.create_default_context(cafile=state["ca_file"])
    tls.load_cert_chain(state["client_cert"], state["client_key"])
    with httpx.Client(verify=tls, timeout=10) as http:
        answer = http.request(method, f"{state['base_url']}/_sandbox/{route}", json=body)
    answer.raise_for_status()
    return dict(answer.json())


def _config(state: dict[str, Any]) -> dict[str, Any]:
    """Host API channels to the running banks, their company accounts, quick follow-up."""
    banks = {b["id"]: {**b["gateway"], "timeout_s": 10.0} for b in state["banks"]
             if b["id"] in BANKS}
    accounts = [{"id": f"{a['bank']}-{a['currency'].lower()}", "bank": a["bank"],
                 "number": a["number"], "currency": a["currency"], "name": a["holder"]}
                for a in state["company_accounts"] if a["bank"] in BANKS]
    return {"banks": banks, "accounts": accounts, "policy": "straight-through",
            "follow": {"poll_first_s": 0.1, "poll_max_s": 0.5, "not_found_grace_s": 0.5}}


@contextmanager
def _following(app: App) -> Iterator[None]:
    """The gateway's worker runs its jobs in the background until the block ends."""
    stop = threading.Event()

    def run() -> None:
        worker = Worker(app.job_context(), concurrency=2, lease_s=5)
        try:
            while not stop.is_set():
                worker.run_once()
                stop.wait(0.05)
        finally:
            worker.close()
    thread = threading.Thread(target=run, name="k18-worker")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@pytest.mark.slow
def test_K18_a_bank_killed_mid_batch_and_restarted_on_its_books_gives_each_order_its_final_word(
        store_url, tmp_path):
    """K-18: the bank books the first batch and is SIGKILLed before it answers; the gateway's
    send fails with no answer (`unknown`) and its queries find nobody; the bank starts again
    on the same port and ledger file, the queries get its word. Every order ends as the bank
    says, each booked once (INV-1), the world's money unchanged (INV-3), none lost."""
    directory, ledger_path, port = tmp_path / "sandbox", tmp_path / "ledger.sqlite", _free_port()
    bank, state = _bank_process(directory, port, ledger_path)
    config = _config(state)
    app = build_app(Settings(db_url=store_url), config)
    try:
        _admin(state, "POST", "faults", {"sleep_after_accept_s": 60, "script": [
            {"op": "submit", "fault": "sleep_after_accept"}]})
        payees = demo_payees(demo_world(seed=SEED))
        created = _create(app, [p for b in BANKS for p in _sound(payees, b)[:3]], 6)
        ids = {o.instruction_id for o in created}

        def booked() -> dict[str, int]:
            return {i: n for i, n in _admin(state, "GET", "ledger")["bookings"].items()
                    if i in ids}
        with _following(app):
            wait_for(lambda: len(booked()) >= 3, 30, "the bank to book the first batch")
            before = booked()
            bank.kill()  # SIGKILL, the first batch's answer still held back
            assert bank.wait(timeout=10) == -9
            wait_for(lambda: any(o.status is Status.UNKNOWN for o in orders_of(app)), 20,
                     "the gateway to hear nothing back")
            bank, state = _bank_process(directory, port, ledger_path)
            assert {i: booked().get(i) for i in before} == before, "the bank forgot its books"
            wait_for(lambda: all(o.status in TERMINAL for o in orders_of(app)), 30,
                     "every order to reach the bank's final word")
    finally:
        bank.terminate()
        bank.wait(timeout=10)
    orders = orders_of(app)
    books_file = LedgerFile(ledger_path)  # the restarted bank's books, as it left them
    books = Ledger(demo_world(seed=SEED), file=books_file)
    try:
        with app.uow() as unit:
            unknown = [o for o in orders if "unknown" in
                       [h["to_status"] for h in unit.audit.for_subject(o.id)]]
            said = {o.instruction_id: books.status(unit.accounts.get(o.debtor).bank,
                                                   [o.instruction_id])[0] for o in orders}
        after = books.debit_bookings()
        check_invariants(app, SimpleNamespace(ledger=books), orders)  # INV-1, INV-2, INV-3
    finally:
        books_file.close()
        app.close()
    assert {o.instruction_id for o in orders} == ids and len(orders) == 6  # none lost
    assert {i: after.get(i) for i in before} == before
    assert unknown, "the send the bank died on must go through unknown, then a query"
    for order in orders:
        held = said[order.instruction_id]
        assert held is not None, f"{order.id} is {order.status} but the bank never heard of it"
        assert order.status.value == held.status.value, (order.id, order.status, held.status)
