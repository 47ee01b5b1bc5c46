"""`bankgate demo` with boc as a file-exchange bank over the sandbox SFTP server."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def _boc_batches_sent(folder: Path) -> int:
    (db,) = folder.glob("*.db")
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("select count(*) from batches where bank = 'boc' "
                                "and send_attempts > 0").fetchone()
    return int(count)


def test_the_demo_pays_through_the_sftp_bank_and_collects_its_files_once(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "bankgate", "demo", "--json", "--dir",
                           str(tmp_path), "--payments", "60"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    assert story["finished"] is True and all(story["checks"].values()), story["checks"]
    files = story["files"]
    assert files["bank"] == "boc" and files["conflicts"] == 0
    assert files["out"].get("pain.001 uploaded", 0) >= 1
    assert files["in"].get("pain.002 processed", 0) >= 1
    assert files["in"].get("camt.053 processed", 0) >= 1
    assert not [k for k in files["in"] if not k.endswith("processed")], files["in"]
    out = tmp_path / "sandbox" / "sftp" / "boc" / "company" / "out"
    delivered = sorted(p.name for p in out.iterdir())
    # one file per batch paid from boc: the payments of step 2 (counted at step 4b) and the
    # payroll, claims and sweep of the later steps
    assert len(delivered) == _boc_batches_sent(tmp_path) >= files["out"]["pain.001 uploaded"]
    assert all(n.startswith("PAIN001_") and n.endswith(".xml") for n in delivered)
    boc = next(b for b in story["balances_after"] if b["bank"] == "boc")
    assert boc["error"] is None and boc["ledger"] is not None
