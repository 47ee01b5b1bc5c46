"""Flows (issue 7): payroll import with bank name checks, payment to the bank's final word,
and fetching the day's receipts, against the in-process sandbox banks (SQLite store).

    .venv/bin/python bench/flows.py [LINES]      # default 300 payroll lines
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.flows_world import card, flows_world, gateway_config

from bankgate.bootstrap import build_app
from bankgate.sandbox.run import start_sandbox
from bankgate.sandbox.world import AccountSpec
from bankgate.services.payroll import import_payroll, payroll_report
from bankgate.services.receipts import fetch_receipts
from bankgate.services.worker import Worker
from bankgate.settings import Settings

PREFIX = {"icbc": "622202", "cmb": "621483", "boc": "621785"}


def payroll_file(staff: list[tuple[str, str, str, str]], month: int) -> bytes:
    head = ["付款账户,icbc-cny", f"工资月份,2026-{month:02d}", f"总笔数,{len(staff)}",
            f"总金额,{100 * len(staff)}.00", "", "工号,姓名,账号,开户行,联行号,金额,备注"]
    rows = [f"{e},{name},{number},{bank},,100.00," for e, name, bank, number in staff]
    return ("\n".join(head + rows) + "\n").encode()


def timed(work):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def main(lines: int) -> None:
    banks = tuple(PREFIX)
    staff = [(f"B{i:05d}", f"员工{i}", banks[i % 3], card(PREFIX[banks[i % 3]], 500000 + i))
             for i in range(lines)]
    world = flows_world()
    world = replace(world, accounts=(*world.accounts, *(
        AccountSpec(bank=bank, number=number, holder=name) for _, name, bank, number in staff)))
    with tempfile.TemporaryDirectory() as folder, \
            start_sandbox(world, state_dir=Path(folder) / "sandbox", settle_delay_s=0.05) as bank:
        app = build_app(Settings(db_url=f"sqlite:///{folder}/bench.db"), gateway_config(bank))
        try:
            def run(month: int):  # type: ignore[no-untyped-def]
                return import_payroll(uow=app.uow, channels=app.channels,
                                      content=payroll_file(staff, month), origin=f"m{month}",
                                      actor="bench", now=app.now, today=date.today())

            first, t_first = timed(lambda: run(11))
            _, t_again = timed(lambda: run(11))
            _, t_next = timed(lambda: run(12))
            worker = Worker(app.job_context(), concurrency=4, lease_s=30)
            _, t_paid = timed(lambda: worker.run_until_idle(timeout_s=300))
            worker.close()
            counts = payroll_report(uow=app.uow, run_id=first.run.id,
                                    roles=frozenset({"payroll"})).counts()
            day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
            fetched, t_receipts = timed(lambda: fetch_receipts(
                uow=app.uow, channels=app.channels, on=day, now=app.now))
        finally:
            app.close()
    print(f"payroll of {lines} lines: first import with a bank name check per line "
          f"{t_first:.2f} s ({lines / t_first:.0f} lines/s); the same file again "
          f"{t_again * 1000:.0f} ms (nothing added); next month, checks reused {t_next:.2f} s")
    print(f"both runs paid to the bank's final word in {t_paid:.2f} s: {counts}")
    print(f"receipts: {fetched.fetched} fetched, stored and verified in {t_receipts:.2f} s "
          f"({fetched.fetched / t_receipts:.0f}/s), {fetched.verified} verified")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
