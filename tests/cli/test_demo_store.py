"""What `bankgate demo` leaves behind: a store whose audit chain verifies, no noise."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import bankgate


def test_the_demo_store_verifies_and_shows_only_real_exceptions(tmp_path: Path):
    done = bankgate("demo", "--json", "--dir", str(tmp_path), "--payments", "30")
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    assert story["finance"]["aging"] == {"0-1 d": 0, "2-7 d": 0, "8-30 d": 0, "> 30 d": 0}
    boc = next(b for b in story["balances_after"] if b["bank"] == "boc")
    assert boc["available"] is not None and not boc["as_of"].endswith("T00:00:00+00:00")
    (store,) = tmp_path.glob("*.db")
    verified = bankgate("audit", "verify", env={"BANKGATE_DB_URL": f"sqlite:///{store}"})
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact" in verified.stdout
