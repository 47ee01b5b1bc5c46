"""Payments per second from creation to settled at the sandbox (L-01, L-02).

For each store (SQLite; PostgreSQL with 1, 2 and 4 worker processes) this creates N orders
through the service layer, lets the workers batch, dispatch and follow them until every order
is settled at the sandbox bank, and prints orders/s with a breakdown by phase. The sandbox
runs as its own process (`bankgate sandbox --world`), as a bank would.

    .venv/bin/python bench/throughput.py --orders 10000 --stores sqlite,postgresql --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bankgate.bootstrap import build_app
from bankgate.domain import TERMINAL, Status
from bankgate.services.intake import parse_order
from bankgate.services.payments import create_orders
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from bankgate.store import make_engine

PG = os.environ.get("BANKGATE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BANKS = (("icbc", "icbc"), ("cmb", "cmb"), ("boc", "boc"))


def bench_world(orders: int) -> dict[str, Any]:
    """Three banks, one richly funded company account each, `orders` payees spread over them."""
    accounts = [
        {
            "bank": b,
            "number": f"62{i:02d}0000000000000001",
            "holder": "示例科技有限公司",
            "currency": "CNY",
            "opening_balance": "1000000000000.00",
            "company": True,
        }
        for i, (b, _) in enumerate(BANKS)
    ]
    for n in range(orders):
        bank = BANKS[n % 3][0]
        accounts.append(
            {
                "bank": bank,
                "number": f"6299{n:015d}",
                "holder": f"供应商{n:05d}",
                "currency": "CNY",
                "opening_balance": "0.00",
            }
        )
    return {
        "banks": [{"id": b, "dialect": d} for b, d in BANKS],
        "accounts": accounts,
        "company": "示例科技有限公司",
    }


def start_sandbox(
    folder: Path, world: dict[str, Any]
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    (folder / "world.json").write_text(json.dumps(world), encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bankgate",
            "sandbox",
            "--world",
            str(folder / "world.json"),
            "--dir",
            str(folder / "sandbox"),
            "--port",
            "0",
            "--settle-delay-s",
            "0.05",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    info_file = folder / "sandbox" / "sandbox.json"
    deadline = time.monotonic() + 30
    while not info_file.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the sandbox did not start")
        time.sleep(0.05)
    time.sleep(0.1)
    return proc, json.loads(info_file.read_text(encoding="utf-8"))


def gateway_config(info: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    offered = {bank["id"]: bank["gateway"] for bank in info["banks"]}  # TLS and signing keys
    banks = {b: {**offered[b], "dialect": d, "timeout_s": 30.0} for b, d in BANKS}
    accounts = [
        {
            "id": f"{a['bank']}-cny",
            "bank": a["bank"],
            "number": a["number"],
            "currency": "CNY",
            "name": a["holder"],
        }
        for a in world["accounts"]
        if a.get("company")
    ]
    return {
        "banks": banks,
        "accounts": accounts,
        "follow": {"poll_first_s": 0.2, "poll_max_s": 1.0, "not_found_grace_s": 5.0},
    }


def store_url(kind: str, folder: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", None
    schema = f"bench_{secrets.token_hex(4)}"
    admin = make_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()

    return f"{PG}?options=-csearch_path%3D{schema}", drop


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def postgres_cpu_s() -> float:
    """CPU seconds of all postgres processes (server side), summed."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_s(int(entry.name))
            except OSError:
                continue
    return total


def run_once(kind: str, workers: int, orders: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bankgate-bench-") as tmp:
        folder = Path(tmp)
        world = bench_world(orders)
        sandbox, info = start_sandbox(folder, world)
        url, drop = store_url(kind, folder)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            config = gateway_config(info, world)
            app = build_app(Settings(db_url=url, worker_concurrency=4), config)
            drafts = _drafts(app, world, orders)
            cpu_before = {"bench": time.process_time(), "sandbox": cpu_s(sandbox.pid),
                          "postgres": postgres_cpu_s()}
            started = time.monotonic()
            for start in range(0, len(drafts), 1000):
                create_orders(
                    uow=app.uow,
                    drafts=drafts[start : start + 1000],
                    actor="bench",
                    now=app.now,
                    source="bench",
                )
            created = time.monotonic()
            if kind == "sqlite":
                finished = _in_process(app, orders)
            else:
                cfg = folder / "bankgate.toml"
                cfg.write_text(_toml(config), encoding="utf-8")
                env = {**os.environ, "BANKGATE_DB_URL": url, "BANKGATE_CONFIG": str(cfg)}
                procs = [
                    subprocess.Popen(
                        [sys.executable, "-m", "bankgate", "worker", "--concurrency", "4"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for _ in range(workers)
                ]
                finished = _wait(app, orders)
            ended = time.monotonic()
            cpu = {"gateway (this process)": time.process_time() - cpu_before["bench"],
                   "workers (processes)": sum(cpu_s(p.pid) for p in procs),
                   "sandbox bank": cpu_s(sandbox.pid) - cpu_before["sandbox"]}
            if kind == "postgresql":
                cpu["postgresql server"] = postgres_cpu_s() - cpu_before["postgres"]
            with app.uow() as unit:
                counts = unit.orders.count_by_status()
            app.close()
        finally:
            for proc in [*procs, sandbox]:
                proc.terminate()
            for proc in [*procs, sandbox]:
                proc.wait(timeout=30)
            if drop:
                drop()
    total = ended - started
    return {
        "store": kind,
        "workers": workers,
        "orders": orders,
        "finished": finished,
        "create_s": round(created - started, 2),
        "follow_s": round(ended - created, 2),
        "total_s": round(total, 2),
        "orders_per_s": round(orders / total),
        "statuses": counts,
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "cpu_share_of_2_cores": round(sum(cpu.values()) / (2 * total), 2),
    }


def _drafts(app: Any, world: dict[str, Any], orders: int) -> list[Any]:
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    payees = [a for a in world["accounts"] if not a.get("company")][:orders]
    today = app.now().date()
    return [
        parse_order(
            {
                "debtor_account": f"{BANKS[(n + 1) % 3][0]}-cny",
                "payee_name": p["holder"],
                "payee_account": p["number"],
                "payee_bank": p["bank"],
                "amount": f"{100 + n % 900}.{n % 100:02d}",
                "currency": "CNY",
            },
            where=f"{n}",
            accounts=accounts,
            today=today,
        )
        for n, p in enumerate(payees)
    ]


def _in_process(app: Any, orders: int) -> bool:
    worker = Worker(app.job_context(), concurrency=4, lease_s=120)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if not worker.run_once():
                if _done(app, orders):
                    return True
                time.sleep(0.02)
        return False
    finally:
        worker.close()


def _wait(app: Any, orders: int) -> bool:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if _done(app, orders):
            return True
        time.sleep(0.1)
    return False


def _done(app: Any, orders: int) -> bool:
    with app.uow() as unit:
        counts = Counter(unit.orders.count_by_status())
    return sum(n for s, n in counts.items() if Status(s) in TERMINAL) >= orders


def _toml(config: dict[str, Any]) -> str:
    lines = []
    for bank, options in config["banks"].items():
        lines.append(f"[banks.{bank}]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in options.items()]
    lines.append("[follow]")
    lines += [f"{k} = {v}" for k, v in config["follow"].items()]
    for account in config["accounts"]:
        lines.append("[[accounts]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in account.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    # a master key for this run's stores and the processes it starts (crypto/master_key.py)
    os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    results = []
    for kind in args.stores.split(","):
        for workers in [1] if kind == "sqlite" else [int(w) for w in args.workers.split(",")]:
            result = run_once(kind, workers, args.orders)
            results.append(result)
            print(
                f"{kind:10} workers={workers} orders={args.orders} "
                f"create={result['create_s']}s follow={result['follow_s']}s "
                f"total={result['total_s']}s → {result['orders_per_s']} orders/s "
                f"{'' if result['finished'] else '(DID NOT FINISH)'} {result['statuses']}\n"
                f"{'':11}CPU seconds {result['cpu_s']}: "
                f"{result['cpu_share_of_2_cores']:.0%} of 2 cores over the run",
                flush=True,
            )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
