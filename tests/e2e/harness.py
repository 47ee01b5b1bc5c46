"""The end-to-end harness: a real sandbox bank, a real store, worker processes, a checker.

`check_invariants` is the Jepsen-style checker of RELIABILITY.md, run after every scenario
against the sandbox banks' own ledgers and our store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bankgate.bootstrap import App
from bankgate.domain import TERMINAL, PaymentOrder, Status

WORKER_LEASE_S = 1.5


def gateway_config(sandbox: Any, world: Any, **follow: float) -> dict[str, Any]:
    """Channels to the sandbox and the company's accounts, with quick follow-up timings."""
    from bankgate.cli.demo import gateway_config as demo_config

    config = demo_config(sandbox, world)
    config["policy"] = "straight-through"  # these tests are about the bank side, not approvals
    config["follow"] = {"poll_first_s": 0.1, "poll_max_s": 0.5, "not_found_grace_s": 0.5,
                        **follow}
    for bank in config["banks"].values():
        bank["timeout_s"] = 2.0
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """The configuration as a TOML file, for worker processes."""
    lines: list[str] = []
    for bank, options in config["banks"].items():
        lines.append(f"[banks.{bank}]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in options.items())
    lines.append("[follow]")
    lines.extend(f"{k} = {_toml(v)}" for k, v in config["follow"].items())
    for account in config["accounts"]:
        lines.append("[[accounts]]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in account.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def worker_process(db_url: str, config_file: Path, *, crash_at: str | None = None,
                   until_idle: bool = True) -> subprocess.Popen[bytes]:
    """`bankgate worker` as a real process, optionally armed to SIGKILL itself at a point."""
    env = {**os.environ, "BANKGATE_DB_URL": db_url, "BANKGATE_CONFIG": str(config_file),
           "BANKGATE_TEST_HOOKS": "1"}
    env.pop("BANKGATE_CRASH_AT", None)
    if crash_at:
        env["BANKGATE_CRASH_AT"] = crash_at
    args = [sys.executable, "-m", "bankgate", "worker", "--concurrency", "2",
            "--lease-s", str(WORKER_LEASE_S)]
    if until_idle:
        args.append("--until-idle")
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
    """Wait for a worker process; its exit code (-9 when it was killed)."""
    try:
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    return proc.returncode


def orders_of(app: App) -> list[PaymentOrder]:
    """Every order in the store."""
    with app.uow() as unit:
        return unit.orders.list(limit=1_000_000)


def wait_for(predicate: Any, timeout_s: float = 20, what: str = "condition") -> None:
    """Poll until `predicate()` is true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def check_invariants(app: App, sandbox: Any, orders: Sequence[PaymentOrder] | None = None) -> None:
    """INV-1, INV-2, INV-3 and the audit half of INV-5, against the banks' own books."""
    orders = list(orders if orders is not None else orders_of(app))
    bookings = sandbox.ledger.debit_bookings()
    doubled = {i: n for i, n in bookings.items() if n > 1}
    assert not doubled, f"INV-1 broken: instruction ids booked more than once: {doubled}"
    for order in orders:
        booked = bookings.get(order.instruction_id, 0)
        if order.status in (Status.SETTLED, Status.ACCEPTED, Status.RETURNED):
            assert booked == 1, f"INV-1: {order.id} is {order.status} but booked {booked}×"
        if order.status is Status.REJECTED:
            assert booked == 0, f"{order.id} rejected but booked {booked}×"
    open_ = [o for o in orders if o.status not in TERMINAL]
    with app.uow() as unit:
        pending_jobs = unit.jobs.pending()
        for order in orders:
            _check_history(order, unit.audit.for_subject(order.id))
    assert not open_ or pending_jobs, f"INV-2: {len(open_)} open orders and no job to follow them"
    assert sandbox.ledger.total_minor() == sandbox.ledger.opening_total_minor(), "INV-3 broken"


def _check_history(order: PaymentOrder, history: list[dict[str, Any]]) -> None:
    """INV-5 (audit half): the transitions form one unbroken path to the current status."""
    steps = [(h["from_status"], h["to_status"]) for h in history
             if h["action"] == "order.transition"]
    status = "draft"
    for from_, to in steps:
        assert from_ == status, f"{order.id}: audit jumps from {status} to a move from {from_}"
        status = to
    assert status == order.status.value, (f"{order.id}: audit ends at {status}, "
                                          f"order is {order.status}")
