"""The file channel end to end: payments → pain.001 → SFTP sandbox → pain.002 + camt → store.

A real asyncssh SFTP bank on 127.0.0.1:0, the real store (SQLite and PostgreSQL), real
worker processes killed for real at the crash points (K-12, K-13). Every scenario ends with
the checker against the sandbox bank's own ledger, and with the bank's `out/` directory
holding exactly one file per batch.
"""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bankgate.bootstrap import App, build_app
from bankgate.cli.demo_files import use_file_channel
from bankgate.domain import TERMINAL, Status
from bankgate.services.files import collect_files, file_channel
from bankgate.services.intake import parse_order
from bankgate.services.payments import create_orders
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from tests.e2e.harness import (
    check_invariants,
    finish,
    orders_of,
    wait_for,
    worker_process,
    write_config,
)

BANK = "boc"


@pytest.fixture
def files_config(config: dict[str, Any], sandbox: Any) -> dict[str, Any]:
    return use_file_channel(config, sandbox, BANK)


@pytest.fixture
def app(store_url: str, files_config: dict[str, Any]) -> Iterator[App]:
    gateway = build_app(Settings(db_url=store_url), files_config)
    yield gateway
    gateway.close()


def _create(app: App, payees: list[dict[str, Any]], count: int, *,
            elsewhere: bool = False) -> list[Any]:
    """`count` orders from our boc account to boc's payees (rigged ones included); with
    `elsewhere`, also to the rigged payees at the other sandbox banks (returned later)."""
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    debtor = next(a.id for a in accounts.values() if a.bank == BANK)
    drafts = [parse_order({"debtor_account": debtor, "payee_name": p["name"],
                           "payee_account": p["account"], "payee_bank": p["bank"],
                           "amount": str(p["amount"]), "currency": "CNY"},
                          where=f"payee {i}", accounts=accounts, today=app.now().date())
              for i, p in enumerate(_chosen(payees, count, elsewhere))]
    return create_orders(uow=app.uow, drafts=drafts, actor="test", now=app.now, source="e2e")


def _chosen(payees: list[dict[str, Any]], count: int,
            elsewhere: bool) -> list[dict[str, Any]]:
    here = [p for p in payees if p["bank"] == BANK][:count]
    there = [p for p in payees if p["bank"] in ("icbc", "cmb") and p["rigged"]]
    return here + (there if elsewhere else [])


def _until_final(app: App, sandbox: Any, timeout_s: float = 30) -> None:
    worker = Worker(app.job_context(), concurrency=2, lease_s=5)
    try:
        def final() -> bool:
            worker.run_once()
            sandbox.settle_now()
            return all(o.status in TERMINAL for o in orders_of(app))
        wait_for(final, timeout_s, "every order to reach the bank's final word")
    finally:
        worker.close()


def _outbound(sandbox: Any) -> list[Path]:
    return sorted(sandbox.sftp.bank.login_of(BANK).outbound.iterdir())


def _one_file_per_batch(app: App, sandbox: Any) -> None:
    files = _outbound(sandbox)
    assert not [f for f in files if f.name.endswith(".part")], "a temporary file was left"
    with app.uow() as unit:
        batches = {o.batch_id for o in unit.orders.list(limit=10_000) if o.batch_id}
    assert sorted(f.name for f in files) == sorted(f"PAIN001_{b}.xml" for b in batches)


def test_round_trip_payments_go_out_as_pain001_and_come_back_as_lifecycle_and_statement(
        app: App, sandbox: Any, payees: list[dict[str, Any]]) -> None:
    created = _create(app, payees, 25)
    _until_final(app, sandbox)
    channel = file_channel(app.channels, BANK)
    collected = collect_files(uow=app.uow, channel=channel, now=app.now)
    assert collected.processed >= 2 and collected.conflicts == 0
    orders = orders_of(app)
    assert len(orders) == len(created)
    by_status = {s: [o for o in orders if o.status is s] for s in Status}
    assert by_status[Status.SETTLED] and by_status[Status.REJECTED]
    assert {o.reason_code for o in by_status[Status.REJECTED]} <= {"AM04", "AC01", "AC04",
                                                                   "BE01"}
    with app.uow() as unit:
        account = next(a for a in unit.accounts.all() if a.bank == BANK)
        entries = unit.statements.entries(account.id)
        transfers = unit.transfers.all(bank=BANK)
        statements = unit.statements.list_statements(account.id)
    booked = {e["end_to_end_id"] for e in entries}
    assert {o.instruction_id for o in by_status[Status.SETTLED]} <= booked
    assert not {o.instruction_id for o in by_status[Status.REJECTED]} & booked
    newest = max(statements, key=lambda s: s["origin"])
    ledger = sandbox.ledger.balance_minor(BANK, account.number.reveal())
    assert newest["closing_minor"] == ledger
    assert {t.state for t in transfers if t.direction == "in"} == {"processed"}
    assert [t.state for t in transfers if t.direction == "out"] == ["uploaded"] * len(
        _outbound(sandbox))
    again = collect_files(uow=app.uow, channel=channel, now=app.now)
    assert again.processed == 0 and again.orders_moved == 0
    _one_file_per_batch(app, sandbox)
    check_invariants(app, sandbox, orders)


def test_the_collector_alone_moves_orders_from_pain002_and_camt054_returns(
        store_url: str, files_config: dict[str, Any], sandbox: Any,
        payees: list[dict[str, Any]]) -> None:
    """No status polls run (they are an hour away): the files move the orders."""
    files_config["follow"] = {**files_config["follow"], "poll_first_s": 3600.0,
                              "poll_max_s": 3600.0}
    app = build_app(Settings(db_url=store_url), files_config)
    try:
        created = _create(app, payees, 12, elsewhere=True)
        worker = Worker(app.job_context(), concurrency=1, lease_s=5)
        try:
            while worker.run_once():
                pass
        finally:
            worker.close()
        assert {o.status for o in orders_of(app)} == {Status.SUBMITTED}
        channel = file_channel(app.channels, BANK)
        first = collect_files(uow=app.uow, channel=channel, now=app.now)
        assert first.orders_moved >= len(created)
        assert Status.SUBMITTED not in {o.status for o in orders_of(app)}
        sandbox.settle_now()
        collect_files(uow=app.uow, channel=channel, now=app.now)
        orders = orders_of(app)
        assert all(o.status in TERMINAL for o in orders), {o.status for o in orders}
        returned = [o for o in orders if o.status is Status.RETURNED]
        assert returned and all(o.reason_code in ("AC01", "AC04", "BE01") for o in returned)
        with app.uow() as unit:
            moves = [h for o in orders for h in unit.audit.for_subject(o.id)
                     if h["action"] == "order.transition" and h["actor"] == "bank:boc"]
        assert moves and all(h["to_status"] != h["from_status"] for h in moves)
        check_invariants(app, sandbox, orders)
    finally:
        app.close()


def _worker_config(tmp_path: Path, files_config: dict[str, Any]) -> Path:
    return write_config(tmp_path / "files.toml", files_config)


@pytest.mark.slow
def test_K12_worker_killed_after_the_temporary_write_leaves_the_bank_one_file(
        app: App, sandbox: Any, payees: list[dict[str, Any]], store_url: str,
        files_config: dict[str, Any], tmp_path: Path) -> None:
    """K-12: SIGKILL between the temporary write and the rename; the restart delivers once."""
    _create(app, payees, 8)
    config_file = _worker_config(tmp_path, files_config)
    killed = worker_process(store_url, config_file, crash_at="files.after_temp_write")
    assert finish(killed) == -signal.SIGKILL
    left = _outbound(sandbox)
    assert left and all(f.name.endswith(".part") for f in left), left
    assert not sandbox.ledger.debit_bookings(), "the bank must not read a temporary file"
    assert finish(worker_process(store_url, config_file)) == 0
    _until_final(app, sandbox)
    _went_through_unknown(app)
    _one_file_per_batch(app, sandbox)
    check_invariants(app, sandbox)


def _went_through_unknown(app: App) -> None:
    """The interrupted send was resolved by asking the bank, not by a blind resend."""
    with app.uow() as unit:
        order = unit.orders.list(limit=1)[0]
        history = [h["to_status"] for h in unit.audit.for_subject(order.id)]
    assert "unknown" in history, history


@pytest.mark.slow
def test_K13_worker_killed_after_the_rename_before_the_record_finds_the_file_and_marks_it(
        app: App, sandbox: Any, payees: list[dict[str, Any]], store_url: str,
        files_config: dict[str, Any], tmp_path: Path) -> None:
    """K-13: the file is delivered, the worker dies before recording it; no second file."""
    _create(app, payees, 8)
    config_file = _worker_config(tmp_path, files_config)
    killed = worker_process(store_url, config_file, crash_at="dispatch.after_response")
    assert finish(killed) == -signal.SIGKILL
    (delivered,) = _outbound(sandbox)
    with app.uow() as unit:
        assert unit.transfers.all(bank=BANK, direction="out") == []
    assert finish(worker_process(store_url, config_file)) == 0
    _until_final(app, sandbox)
    _went_through_unknown(app)
    collect_files(uow=app.uow, channel=file_channel(app.channels, BANK), now=app.now)
    with app.uow() as unit:
        (marked,) = unit.transfers.all(bank=BANK, direction="out")
    assert (marked.name, marked.state) == (delivered.name, "uploaded")
    assert marked.sha256 == hashlib.sha256(delivered.read_bytes()).hexdigest()
    _one_file_per_batch(app, sandbox)
    check_invariants(app, sandbox)
