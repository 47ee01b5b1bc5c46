"""Time to verify the audit chain over 10^6 records, whole and from a checkpoint (L-07).

Appends N records through the real append path (chunks of 10,000, one transaction each),
exports a checkpoint, appends 1 % more, then times `verify_chain` over everything and the
incremental verify of what follows the checkpoint.

    .venv/bin/python bench/audit_verify.py --records 1000000 [--store sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bankgate.audit.chain import Checkpoint
from bankgate.crypto.digest import DigestAlgorithm
from bankgate.domain.audit_records import AuditRecord
from bankgate.services.audit import export_head, verify_chain
from bankgate.store import UnitOfWork, make_engine, migrate

PG = os.environ.get("BANKGATE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def append(engine: object, start: int, count: int, chunk: int = 10_000) -> float:
    began = time.perf_counter()
    for first in range(start, start + count, chunk):
        records = [AuditRecord(at=T0 + dt.timedelta(milliseconds=n), actor="system:bench",
                               action="order.transition", subject_kind="order",
                               subject_id=f"ord-{n:08d}", from_status="submitted",
                               to_status="accepted", detail={"batch": n // 1000})
                   for n in range(first, min(first + chunk, start + count))]
        with UnitOfWork(engine) as unit:  # type: ignore[arg-type]
            unit.audit.append_many(records)
            unit.commit()
    return time.perf_counter() - began


def main() -> None:
    # a master key for this run's stores and the processes it starts (crypto/master_key.py)
    os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        if args.store == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        else:
            schema = f"bench_audit_{os.getpid()}"
            admin = make_engine(PG)
            with admin.begin() as conn:
                conn.execute(text(f"create schema {schema}"))
            url = f"{PG}?options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        migrate(engine)
        appended = append(engine, 1, args.records)
        head = export_head(uow=lambda: UnitOfWork(engine), now=dt.datetime.now(dt.UTC))
        checkpoint = Checkpoint(seq=head["seq"], hash=head["hash"],
                                algorithm=DigestAlgorithm(head["algorithm"]), at=T0)
        tail = max(args.records // 100, 1)
        append(engine, args.records + 1, tail)
        began = time.perf_counter()
        full = verify_chain(uow=lambda: UnitOfWork(engine), checkpoint=checkpoint)
        full_s = time.perf_counter() - began
        began = time.perf_counter()
        incremental = verify_chain(uow=lambda: UnitOfWork(engine), checkpoint=checkpoint,
                                   incremental=True)
        incremental_s = time.perf_counter() - began
        assert full.broken is None and incremental.broken is None
        engine.dispose()
        if args.store == "postgresql":
            with admin.begin() as conn:
                conn.execute(text(f"drop schema {schema} cascade"))
            admin.dispose()
    print(f"store {args.store}: appended {args.records:,} records in {appended:.1f} s "
          f"({args.records / appended:,.0f}/s)")
    print(f"full verify of {full.checked:,} records: {full_s:.1f} s "
          f"({full.checked / full_s:,.0f} records/s)")
    print(f"incremental verify of the {incremental.checked:,} records after the checkpoint: "
          f"{incremental_s:.2f} s")


if __name__ == "__main__":
    main()
