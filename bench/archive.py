"""Peak RSS and CPU seconds of `bankgate import` of one large camt.053 (L-06), on SQLite or
PostgreSQL (CPU-s of the child process: the machine's cores are shared, wall time is noise).

    .venv/bin/python bench/archive.py --entries 1000000 --store sqlite
    .venv/bin/python bench/archive.py --entries 1000000 --store postgresql --file big.xml
    .venv/bin/python bench/archive.py --entries 100000 --file big.xml --archive-only

The import runs in a fresh child process (its VmHWM is the import's alone) against a fresh
SQLite file or a fresh PostgreSQL schema; the raw file is archived in the same transaction.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from formats import generate_camt053

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_CHILD = """
import json, sys, time
from pathlib import Path
from bankgate.bootstrap import build_app
from bankgate.services.statements import import_statement_path
from bankgate.settings import Settings
account = {"id": "bench-eur", "bank": "bench", "number": "DE89370400440532013000",
           "currency": "EUR", "name": "Bench GmbH"}
app = build_app(Settings(db_url=sys.argv[1]), {"accounts": [account]})
started, cpu = time.perf_counter(), time.process_time()
done = import_statement_path(uow=app.uow, path=Path(sys.argv[2]), now=app.now)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
app.close()
with open("/proc/self/status", encoding="ascii") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"entries": done.new_entries, "seconds": round(seconds, 1),
                  "cpu_s": round(cpu, 2),
                  "peak_rss_mb": round(peak / 1024)}))
"""
# --archive-only: the raw archive alone (hash, seal, write; then read back), no parsing
_ARCHIVE_CHILD = """
import hashlib, json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from bankgate.bootstrap import build_app
from bankgate.settings import Settings
app = build_app(Settings(db_url=sys.argv[1]), {"accounts": []})
path = Path(sys.argv[2])
cpu = time.process_time()
with app.uow() as unit:
    digest = unit.statements.archive_raw_file(path, name=path.name, origin="bench",
                                              at=datetime.now(UTC))
    unit.commit()
written, cpu = time.process_time() - cpu, time.process_time()
check = hashlib.sha256()
with app.uow() as unit:
    for piece in unit.statements.raw_chunks(digest) or []:
        check.update(piece)
read = time.process_time() - cpu
app.close()
assert check.hexdigest() == digest
with open("/proc/self/status", encoding="ascii") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"archive_cpu_s": round(written, 2), "read_back_cpu_s": round(read, 2),
                  "peak_rss_mb": round(peak / 1024)}))
"""
_MODE = {"child": _CHILD}


def _run(url: str, path: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _MODE["child"], url, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _on_postgresql(path: Path) -> dict[str, object]:
    from sqlalchemy import text

    from bankgate.store import make_engine

    schema = f"bench_{secrets.token_hex(4)}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        return _run(f"{PG_URL}?options=-csearch_path%3D{schema}", path)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


def main() -> None:
    # a master key for this run's stores and the processes it starts (crypto/master_key.py)
    os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--file", type=Path, help="reuse (or write) this camt.053 file")
    parser.add_argument("--archive-only", action="store_true",
                        help="time only archiving the raw file and reading it back (CPU-s)")
    args = parser.parse_args()
    if args.archive_only:
        _MODE["child"] = _ARCHIVE_CHILD
    with tempfile.TemporaryDirectory(prefix="bankgate-archive-") as tmp:
        path = args.file or Path(tmp) / "big.xml"
        if not path.exists():
            generate_camt053(args.entries, path)
        file_mb = round(path.stat().st_size / 2**20)
        if args.store == "sqlite":
            result = _run(f"sqlite:///{tmp}/bench.db", path)
        else:
            result = _on_postgresql(path)
    print(json.dumps({"store": args.store, "file_mb": file_mb,
                      **result}))


if __name__ == "__main__":
    main()
