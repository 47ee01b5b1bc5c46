"""L-04: a soak with a fault mix — payments created steadily for N minutes against a sandbox
bank that drops answers after booking, fails now and then and calls back twice, while one
worker process is killed and every store connection is cut once. Then: INV-1 (no instruction
booked twice), INV-2 (every order at the bank's final word, or a job following it), INV-3
(money conserved at the bank), the audit path of every order (INV-5), and the figures:
p50/p99 end-to-end latency (created → final) and how long orders dwelt in `unknown`.

    .venv/bin/python bench/soak.py --minutes 30                 # the L-04 run
    .venv/bin/python bench/soak.py --minutes 2 --rate 10        # a quick look

PostgreSQL (BANKGATE_BENCH_PG_URL, default the local `test` database), a schema of its own.
The sandbox runs in this process; the workers and the API (for the callbacks) are real
`bankgate worker` / `bankgate serve` processes.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.e2e.harness import (  # noqa: E402
    check_invariants,
    gateway_config,
    orders_of,
    write_config,
)
from throughput import PG, store_url  # noqa: E402

from bankgate.bootstrap import build_app  # noqa: E402
from bankgate.domain import TERMINAL, Status  # noqa: E402
from bankgate.sandbox.demo_world import demo_payees, demo_world  # noqa: E402
from bankgate.sandbox.run import start_sandbox  # noqa: E402
from bankgate.services.intake import parse_order  # noqa: E402
from bankgate.services.payments import create_orders  # noqa: E402
from bankgate.settings import Settings  # noqa: E402

TERMINAL_VALUES = {s.value for s in TERMINAL}
FAULTS = {"drop_after_accept_rate": 0.05, "error_rate": 0.01, "duplicate_callbacks": 2}


def _port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bankgate", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cut_connections(url: str) -> int:
    """Every other connection to the soak's database terminated: the store 'restarts'
    under the gateway's feet (the server itself is shared, so it is not restarted)."""
    from bankgate.store import make_engine

    admin = make_engine(PG)
    try:
        with admin.begin() as conn:
            return len(conn.execute(text(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()")).all())
    finally:
        admin.dispose()


def soak(minutes: float, rate: float, workers: int) -> dict[str, Any]:
    os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    world = demo_world(seed=11)
    payees = [p for p in demo_payees(world) if not p.get("rigged")]
    with tempfile.TemporaryDirectory(prefix="bankgate-soak-") as tmp, \
            start_sandbox(world, state_dir=Path(tmp) / "sandbox", settle_delay_s=0.2) as bank:
        url, drop = store_url("postgresql", Path(tmp))
        port = _port()
        config = gateway_config(bank, world, poll_first_s=0.3, poll_max_s=2.0,
                                not_found_grace_s=3.0)
        for name, options in config["banks"].items():
            if options["kind"] == "hostapi":
                options["callback_url"] = f"http://127.0.0.1:{port}/api/v1/callbacks/{name}"
        config_file = write_config(Path(tmp) / "bankgate.toml", config)
        app = build_app(Settings(db_url=url), config)
        env = {**os.environ, "BANKGATE_DB_URL": url, "BANKGATE_CONFIG": str(config_file)}
        procs = [_spawn(["serve", "--port", str(port), "--no-worker"], env)]
        procs += [_spawn(["worker", "--concurrency", "2"], env) for _ in range(workers)]
        bank.set_faults(bank=None, seed=4, **FAULTS)
        events: list[str] = []
        try:
            created = _feed(app, payees, minutes * 60, rate, procs, env, url, events)
            finished = _drain(app, 300)
            bank.set_faults(bank=None, reset=True)
            orders = orders_of(app)
            check_invariants(app, bank, orders)  # raises AssertionError naming what broke
            figures = _figures(app, orders)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=30)
            app.close()
            if drop:
                drop()
    return {"minutes": minutes, "rate_per_s": rate, "workers": workers, "faults": FAULTS,
            "orders": created, "all_final": finished, "events": events,
            "statuses": {s.value: n for s, n in _count(orders).items()}, **figures,
            "invariants": "INV-1, INV-2, INV-3, INV-5 (audit paths) hold"}


def _feed(app: Any, payees: list[dict[str, Any]], seconds: float, rate: float,
          procs: list[subprocess.Popen[bytes]], env: dict[str, str], url: str,
          events: list[str]) -> int:
    """Create `rate` orders a second for `seconds`; a worker killed at a third of the time,
    the store's connections cut at two thirds. Progress on stderr."""
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    by_bank = {a.bank: a.id for a in accounts.values()}
    start, made, killed, cut = time.monotonic(), 0, False, False
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) - made
        drafts = [parse_order({
            "debtor_account": by_bank.get(p["bank"]) or sorted(accounts)[0],
            "payee_name": p["name"], "payee_account": p["account"], "payee_bank": p["bank"],
            "amount": f"{10 + (made + k) % 90}.{(made + k) % 100:02d}", "currency": "CNY"},
            where=f"soak {made + k}", accounts=accounts, today=app.now().date())
            for k, p in ((k, payees[(made + k) % len(payees)]) for k in range(due))]
        if drafts:
            create_orders(uow=app.uow, drafts=drafts, actor="soak", now=app.now, source="soak")
            made += len(drafts)
        if not killed and elapsed > seconds / 3:
            procs[1].kill()  # SIGKILL a worker mid-run; another takes its place
            procs[1].wait()
            procs.append(_spawn(["worker", "--concurrency", "2"], env))
            killed = True
            events.append(f"{elapsed:.0f} s: worker killed (SIGKILL) and replaced")
        if not cut and elapsed > 2 * seconds / 3:
            events.append(f"{elapsed:.0f} s: {_cut_connections(url)} store connections cut")
            cut = True
        print(f"\r{elapsed:6.0f} s  {made} orders created", end="", file=sys.stderr,
              flush=True)
        time.sleep(0.25)
    print(file=sys.stderr)
    return made


def _drain(app: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(o.status in TERMINAL for o in orders_of(app)):
            return True
        time.sleep(1)
    return False


def _count(orders: list[Any]) -> dict[Status, int]:
    out: dict[Status, int] = {}
    for order in orders:
        out[order.status] = out.get(order.status, 0) + 1
    return out


def _figures(app: Any, orders: list[Any]) -> dict[str, Any]:
    """End-to-end latency of final orders and time spent in `unknown`, from the audit log."""
    latency, dwell = [], []
    with app.uow() as unit:
        for order in orders:
            steps = [(h["to_status"], h["at"]) for h in unit.audit.for_subject(order.id)
                     if h["action"] == "order.transition"]
            if order.status in TERMINAL:
                latency.append(_seconds(order.created_at, order.status_changed_at))
            for (to, at), (_, after) in pairwise(steps):
                if to == Status.UNKNOWN.value:
                    dwell.append(_seconds(at, after))
        alerts = sorted({f"{a.kind} ({a.subject})" for a in unit.alerts.find()})
        refused = unit.audit.count("callback.refused")
        moves = [h for o in orders for h in unit.audit.for_subject(o.id)
                 if h["action"] == "order.transition" and h["to_status"] in TERMINAL_VALUES]
        via_callback = sum(1 for h in moves if h["detail"].get("via") == "callback")
    return {"latency_s": _quantiles(latency), "unknown_orders": len(dwell),
            "unknown_dwell_s": _quantiles(dwell), "callbacks_refused": refused,
            "final_word_by_callback": via_callback, "alerts": alerts}


def _seconds(start: datetime | str, end: datetime | str) -> float:
    a = datetime.fromisoformat(start) if isinstance(start, str) else start
    b = datetime.fromisoformat(end) if isinstance(end, str) else end
    return (b - a).total_seconds()


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if len(values) < 2:
        return {"max": round(values[0], 2)} if values else None
    cut = statistics.quantiles(values, n=100)
    return {"p50": round(cut[49], 2), "p99": round(cut[98], 2), "max": round(max(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5.0, help="orders created a second")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    print(json.dumps(soak(args.minutes, args.rate, args.workers), ensure_ascii=False,
                     indent=2))


if __name__ == "__main__":
    main()
