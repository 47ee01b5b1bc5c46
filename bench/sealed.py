"""What sealing account numbers at rest costs (issue 5): µs per seal / open / blind-index tag,
and the CPU seconds of importing a camt.053 of N entries with the counterparty account sealed
against the same import with the sealed column passing values through unchanged.

    .venv/bin/python bench/sealed.py                       # 100k entries, SQLite
    .venv/bin/python bench/sealed.py --store postgresql

CPU seconds (user + system of the importing process, `resource.getrusage`), not wall time:
the machine is shared. Each import runs in a fresh child process against a fresh store; the
"plain" run swaps the sealed column's processors for pass-through ones in that child only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from formats import generate_camt053

PG_URL = os.environ.get("BANKGATE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NUMBER = b"6222020200001000001"

_CHILD = """
import json, resource, sys
from pathlib import Path
from bankgate.bootstrap import build_app
from bankgate.services.statements import import_statement_path
from bankgate.settings import Settings
from bankgate.store.sealed import Sealed
if sys.argv[3] == "plain":
    Sealed.process_bind_param = lambda self, value, dialect: value
    Sealed.process_result_value = lambda self, value, dialect: value
account = {"id": "bench-eur", "bank": "bench", "number": "DE89370400440532013000",
           "currency": "EUR", "name": "Bench GmbH"}
app = build_app(Settings(db_url=sys.argv[1]), {"accounts": [account]})
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
started = cpu()
done = import_statement_path(uow=app.uow, path=Path(sys.argv[2]), now=app.now)
spent = cpu() - started
with app.uow() as unit:  # read every entry back (opens each sealed counterparty account)
    started_read = cpu()
    read = len(unit.statements.entries("bench-eur", limit=10**9))
    spent_read = cpu() - started_read
app.close()
print(json.dumps({"entries": done.new_entries, "import_cpu_s": round(spent, 2),
                  "read_back": read, "read_cpu_s": round(spent_read, 2)}))
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def micro(n: int) -> dict[str, float]:
    """µs per operation on a 19-digit account number (CPU time, `n` repetitions)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from bankgate.crypto.sealed import BlindIndex, SecretBox

    key = secrets.token_bytes(32)
    box, index = SecretBox(key), BlindIndex(key, "account-number")
    text = NUMBER.decode()
    figures: dict[str, float] = {}

    started = _cpu()
    envelopes = [box.seal(NUMBER, "statement_entries.counterparty_account") for _ in range(n)]
    figures["seal_us"] = (_cpu() - started) / n * 1e6
    started = _cpu()
    for envelope in envelopes:
        box.open(envelope, "statement_entries.counterparty_account")
    figures["open_us"] = (_cpu() - started) / n * 1e6
    started = _cpu()
    for _ in range(n):
        index.tag(text)
    figures["tag_us"] = (_cpu() - started) / n * 1e6
    aes_key, nonce = secrets.token_bytes(32), os.urandom(12)
    started = _cpu()
    for _ in range(n):
        AESGCM(aes_key).encrypt(nonce, NUMBER, b"aad")
    figures["aesgcm_new_object_each_us"] = (_cpu() - started) / n * 1e6
    aes = AESGCM(aes_key)
    started = _cpu()
    for _ in range(n):
        aes.encrypt(nonce, NUMBER, b"aad")
    figures["aesgcm_one_object_us"] = (_cpu() - started) / n * 1e6
    figures["envelope_chars"] = len(envelopes[0])
    return {k: round(v, 2) for k, v in figures.items()}


def _store(kind: str, folder: Path, tag: str) -> tuple[str, object]:
    if kind == "sqlite":
        return f"sqlite:///{folder / f'{tag}.db'}", None
    from sqlalchemy import text

    from bankgate.store import make_engine

    schema = f"bench_{tag}_{secrets.token_hex(3)}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    return f"{PG_URL}?options=-csearch_path%3D{schema}", (admin, schema)


def _drop(handle: object) -> None:
    if handle is None:
        return
    from sqlalchemy import text

    admin, schema = handle  # type: ignore[misc]
    with admin.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


def imports(kind: str, entries: int, folder: Path) -> dict[str, dict[str, object]]:
    """The import (and read-back) of one file, sealed and plain, each in a fresh child."""
    path = folder / "statement.xml"
    generate_camt053(entries, path)
    results: dict[str, dict[str, object]] = {}
    for mode in ("plain", "sealed"):
        url, handle = _store(kind, folder, mode)
        try:
            out = subprocess.run([sys.executable, "-c", _CHILD, url, str(path), mode],
                                 check=True, capture_output=True, text=True).stdout
            results[mode] = json.loads(out.strip().splitlines()[-1])
        finally:
            _drop(handle)
    return results


def main() -> None:
    # a master key for this run's stores and the processes it starts (crypto/master_key.py)
    os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--micro", type=int, default=200_000, help="repetitions per operation")
    args = parser.parse_args()
    started = time.perf_counter()
    print(json.dumps({"micro": micro(args.micro)}))
    with tempfile.TemporaryDirectory() as folder:
        found = imports(args.store, args.entries, Path(folder))
    plain, sealed = found["plain"], found["sealed"]
    extra = float(sealed["import_cpu_s"]) - float(plain["import_cpu_s"])  # type: ignore[arg-type]
    print(json.dumps({"store": args.store, "entries": args.entries, "plain": plain,
                      "sealed": sealed, "import_extra_cpu_s": round(extra, 2),
                      "import_extra_us_per_entry": round(extra / args.entries * 1e6, 1),
                      "wall_s": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
