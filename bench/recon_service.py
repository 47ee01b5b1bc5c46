"""The reconciliation service over a real store: gather, match, lock, book, summarise.

N booked entries and N open items (every entry echoing its item's end-to-end id, a tenth of
them without it but with the counterparty account), written straight into the store; then
one `reconcile()` run, one `recon_summary()` and one voucher export, each timed.

    .venv/bin/python bench/recon_service.py --n 10000 --stores sqlite,postgresql
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from bankgate.bootstrap import build_app
from bankgate.domain.recon import MatchConfig, OpenItemKind
from bankgate.services.ledger import prepare_export
from bankgate.services.recon import reconcile
from bankgate.services.recon_items import item_row
from bankgate.services.recon_summary import recon_summary
from bankgate.settings import Settings
from bankgate.store.tables import statement_entries

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACCOUNT = {"id": "bench-cny", "bank": "icbc", "number": "6222020200009999999",
           "currency": "CNY", "name": "示例科技有限公司"}


def _fill(app, n: int) -> None:
    at, day = datetime.now(UTC), date(2026, 12, 1)
    entries, items = [], []
    for k in range(n):
        e2e = f"E2E{k:012d}" if k % 10 else None
        counterparty = f"62220000{k:011d}"
        entries.append({"account_id": "bench-cny", "key_kind": "bank_reference",
                        "key_value": f"S{k:012d}", "amount_minor": -(10_000 + k),
                        "currency": "CNY", "status": "booked", "booking_date": day,
                        "value_date": day, "bank_reference": f"S{k:012d}",
                        "end_to_end_id": e2e, "counterparty_name": f"供应商{k}有限公司",
                        "counterparty_account": counterparty, "remittance": f"货款 INV-{k}",
                        "statement_id": None, "origin": "bench", "created_at": at})
        items.append(item_row(kind=OpenItemKind.PAYMENT, source_id=f"o{k}",
                              account_id="bench-cny", amount_minor=-(10_000 + k),
                              currency="CNY", expected=day, at=at, e2e=f"E2E{k:012d}",
                              name=f"供应商{k}有限公司", account=counterparty,
                              flow="supplier"))
    with app.engine.begin() as conn:
        conn.execute(insert(statement_entries), entries)
    with app.uow() as unit:
        unit.recon.add_items(items)
        unit.commit()


def run(store: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'b.db'}" if store == "sqlite" else PG
        if store == "postgresql":
            from bankgate.store import make_engine

            engine = make_engine(PG)
            with engine.begin() as conn:
                conn.execute(text("drop schema if exists bench_recon cascade; "
                                  "create schema bench_recon"))
            engine.dispose()
            url = f"{PG}?options=-csearch_path%3Dbench_recon"
        app = build_app(Settings(db_url=url), {"accounts": [ACCOUNT]})
        try:
            _fill(app, n)
            started = time.perf_counter()
            done = reconcile(uow=app.uow, config=MatchConfig(), now=app.now)
            matched = time.perf_counter()
            summary = recon_summary(uow=app.uow, now=app.now, zone=ZoneInfo("Asia/Shanghai"))
            summarised = time.perf_counter()
            export = prepare_export(uow=app.uow, fmt="csv")
            exported = time.perf_counter()
        finally:
            app.close()
    assert done.confirmed == n == summary.matched and len(export.voucher_ids) == n
    return {"reconcile_s": matched - started, "summary_s": summarised - matched,
            "export_s": exported - summarised}


def main() -> None:
    # a master key for this run's stores and the processes it starts (crypto/master_key.py)
    os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    for store in args.stores.split(","):
        figures = run(store, args.n)
        rate = args.n / figures["reconcile_s"]
        print(f"{store:10} n={args.n:>7,}  reconcile {figures['reconcile_s']:6.2f} s "
              f"({rate:,.0f} entries/s, vouchers included)  summary "
              f"{figures['summary_s']:5.2f} s  export {figures['export_s']:5.2f} s")


if __name__ == "__main__":
    main()
