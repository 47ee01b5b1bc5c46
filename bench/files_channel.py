"""The file channel's costs on one machine: one batch of N payments through the SFTP bank.

Measures, against the real sandbox SFTP bank on 127.0.0.1: submit (pain.001 written and
XSD-validated, uploaded as .part, renamed, booked by the bank, pain.002 written), the first
status() over every id (lists, fetches and parses the pain.002 and our pain.001), a second
status() (served from the parse cache), the statement of the day, and a collector run on
a fresh store (SQLite). Run: `.venv/bin/python bench/files_channel.py [N]`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from bankgate.bootstrap import build_app
from bankgate.connectors.files import connect
from bankgate.sandbox.ledger import SHANGHAI
from bankgate.sandbox.run import start_sandbox
from bankgate.services.files import collect_files, file_channel
from bankgate.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' builders
from tests.connectors.world import COMPANY, NUMBERS, a_batch, a_line, our_account, small_world


def _timed(label: str, work):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    print(f"{label:<44} {time.perf_counter() - started:8.3f} s")
    return result


def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-files-"))
    with start_sandbox(small_world(), state_dir=folder / "sandbox") as bank:
        channel = connect("boc", bank.sftp.client_options("boc"))
        debtor = our_account("boc")
        lines = [a_line(debtor, amount="1.00") for _ in range(count)]
        batch = a_batch(debtor, lines)
        ids = [line.order.instruction_id for line in lines]
        print(f"one batch of {count} payments, sandbox SFTP bank on 127.0.0.1")
        _timed("submit (write+validate, upload, book, pain.002)",
               lambda: channel.submit(batch, debtor, lines))
        _timed("resend (found, same hash: nothing written)",
               lambda: channel.submit(batch, debtor, lines))
        _timed("status, first (fetch + parse)", lambda: channel.status(ids))
        _timed("status, again (parse cache)", lambda: channel.status(ids))
        bank.settle_now()
        final = _timed("status after settlement", lambda: channel.status(ids))
        print(f"  outcomes: {sorted(Counter(r.outcome.value for r in final).items())}")
        today = datetime.now(SHANGHAI).date()
        _timed("statement of the day (camt.053)", lambda: channel.statements(debtor, today))
        channel.close()
        config = {"banks": {"boc": {"kind": "files", **bank.sftp.client_options("boc")}},
                  "accounts": [{"id": "boc-cny", "bank": "boc", "number": NUMBERS["boc"][0],
                                "currency": "CNY", "name": COMPANY}]}
        app = build_app(Settings(db_url=f"sqlite:///{folder / 'bench.db'}"), config)
        try:
            done = _timed("collect_files, fresh SQLite store", lambda: collect_files(
                uow=app.uow, channel=file_channel(app.channels, "boc"), now=app.now))
            print(f"  {done.processed} files processed, {done.new_entries} entries stored")
        finally:
            app.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
