"""`bankgate sync`, `reconcile`, `recon`, `ledger export` and `reports` as a user runs them.

Each command's first run is a process of its own; run again for its next answer it runs in
this process (tests/cli/test_alerts_cli.py's `in_process`: the same CLI, no interpreter start).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_alerts_cli import in_process
from tests.cli.test_cli import bankgate
from tests.e2e.harness import gateway_config, write_config
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import pay, sound_payees


@pytest.fixture
def store_url(sqlite_url):
    """SQLite only: each command is a process (~2 s); the services run on both stores."""
    return sqlite_url


@pytest.mark.slow
def test_sync_reconcile_export_and_reports_from_the_command_line(
        gateway, sandbox, world, payees, store_url, tmp_path: Path):
    pay(gateway, sound_payees(payees, 2))
    config = write_config(tmp_path / "bankgate.toml", gateway_config(sandbox, world))
    env = {"BANKGATE_DB_URL": store_url, "BANKGATE_CONFIG": str(config)}
    synced = bankgate("sync", "icbc-cny", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    (account,) = json.loads(synced.stdout)["accounts"]
    assert account["new_entries"] == 2 and account["open_exceptions"] == 0
    again = json.loads(in_process("sync", "icbc-cny", "--json", env=env).stdout)
    assert again["accounts"][0]["new_entries"] == 0
    done = bankgate("reconcile", "--account", "icbc-cny", "--json", env=env)
    summary = json.loads(done.stdout)
    assert summary["match_rate_pct"] == "100.0" and summary["run"]["confirmed"] == 2
    out = tmp_path / "vouchers.csv"
    first = bankgate("ledger", "export", "-o", str(out), env=env)
    assert first.returncode == 0 and "2 vouchers" in first.stdout
    assert out.read_text("utf-8-sig").count("记-") == 4  # two lines per voucher
    second = in_process("ledger", "export", "-o", str(tmp_path / "more.csv"), env=env)
    assert "no voucher to export" in second.stdout and not (tmp_path / "more.csv").exists()
    forced = in_process("ledger", "export", "-o", str(tmp_path / "again.json"), "--format",
                      "json", "--again", env=env)
    assert len(json.loads((tmp_path / "again.json").read_text())["vouchers"]) == 2, forced
    files = bankgate("reports", "export", "--out", str(tmp_path / "reports"), env=env)
    assert files.returncode == 0 and "cash_position.png" in files.stdout


def test_a_bad_receipts_file_is_one_line_naming_row_and_field_with_exit_2(
        sqlite_url, tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text('[[accounts]]\nid = "icbc-cny"\nbank = "icbc"\n'
                      'number = "6222020200001000001"\ncurrency = "CNY"\nname = "示例"\n')
    bad = tmp_path / "ar.csv"
    bad.write_text("account,customer,amount,due_date,invoices\n"
                   "icbc-cny,客户,100.00,2026-12-31,INV-1\n"
                   "icbc-cny,客户,abc,2026-12-31,INV-2\n", encoding="utf-8")
    done = bankgate("recon", "receipts", "import", str(bad),
                    env={"BANKGATE_DB_URL": sqlite_url, "BANKGATE_CONFIG": str(config)})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: ar.csv: row 2, field 'amount': 'abc' is not a decimal"]


def test_unknown_match_and_missing_reason_are_clear_errors(sqlite_url):
    env = {"BANKGATE_DB_URL": sqlite_url}
    unknown = bankgate("recon", "confirm", "ma_nope", "--by", "alice", env=env)
    assert unknown.returncode == 2 and "not found" in unknown.stderr
    no_reason = bankgate("recon", "unmatch", "ma_nope", "--by", "alice", env=env)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
