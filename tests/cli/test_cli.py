"""The command line as a person uses it: real processes, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def bankgate(*args: str, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bankgate", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_demo_tells_the_whole_story_as_json_in_under_a_minute(tmp_path: Path):
    done = bankgate("demo", "--json", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    assert story["payments"] == 200 and story["finished"] is True
    assert story["elapsed_s"] < 60
    assert all(story["checks"].values()), story["checks"]
    assert [(a["kind"], a["level"]) for a in story["alerts"]] == [  # I-10: 20 days ahead
        ("certificate.expiring", "warn")]
    by_status = {o["status"]: o for o in story["outcomes"]}
    assert by_status["settled"]["count"] > 100
    codes = {r["code"] for r in by_status["rejected"]["reasons"]}
    assert {"AM04", "AC01", "AC04", "BE01"} <= codes  # rejected for real reasons
    assert len(story["balances_before"]) == 3 and story["totals_before"] != story["totals_after"]
    assert sum(s["entries"] for s in story["statements"]) == by_status["settled"]["count"]


def test_demo_in_a_terminal_shows_tables_and_invariants(tmp_path: Path):
    done = bankgate("demo", "--dir", str(tmp_path), "--payments", "30")
    assert done.returncode == 0, done.stderr
    for heading in ("Cash before", "final answer", "Statements fetched", "Cash after",
                    "INV-1 no double payment ✓"):
        assert heading in done.stdout


@pytest.mark.parametrize(("args", "says"), [
    (("--bogus",), "No such option"),
    (("payments", "import"), "Missing argument"),
    (("payments", "import", "/nonexistent/file.csv"), "not a readable file"),
    (("payments", "import", "/"), "not a readable file"),
    (("demo", "--payments", "0"), "Invalid value"),
])
def test_bad_command_lines_get_one_line_and_exit_2(args, says):
    done = bankgate(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr


def test_a_broken_payment_file_is_refused_whole_in_one_line(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'b.db'}"
    config = tmp_path / "bankgate.toml"
    config.write_text('[[accounts]]\nid = "icbc-cny"\nbank = "icbc"\n'
                      'number = "6222020200001000001"\ncurrency = "CNY"\nname = "示例"\n',
                      encoding="utf-8")
    env = {"BANKGATE_DB_URL": store, "BANKGATE_CONFIG": str(config)}
    good = tmp_path / "pay.csv"
    good.write_text("debtor_account,payee_name,payee_account,payee_bank,amount,currency\n"
                    "icbc-cny,张三,6222020200009000001,icbc,10.00,CNY\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text(encoding="utf-8") + "icbc-cny,李四,123,icbc,1.5.0,CNY\n",
                   encoding="utf-8")
    refused = bankgate("payments", "import", str(bad), env=env)
    assert refused.returncode == 2 and "row 3" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    first = bankgate("payments", "import", str(good), env=env)
    again = bankgate("payments", "import", str(good), env=env)
    assert "imported 1 payment orders" in first.stdout
    assert "already imported earlier" in again.stdout


def test_db_upgrade_reports_the_revision(tmp_path: Path):
    done = bankgate("db", "upgrade", env={"BANKGATE_DB_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    from alembic.script import ScriptDirectory

    from bankgate.store.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config(None)).get_heads()  # type: ignore[arg-type]
    assert done.returncode == 0 and f"revision {'+'.join(sorted(heads))}" in done.stdout


def test_a_binary_file_is_refused_as_a_payment_file_in_one_line(tmp_path: Path):
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(bytes(range(256)) * 40)
    done = bankgate("payments", "import", str(binary),
                    env={"BANKGATE_DB_URL": f"sqlite:///{tmp_path / 'b.db'}"})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "photo.jpg" in done.stderr and "Traceback" not in done.stderr


def test_a_closed_stdout_is_not_a_traceback(tmp_path: Path):
    """EPIPE: `bankgate demo --json | head -1` ends quietly."""
    proc = subprocess.Popen([sys.executable, "-m", "bankgate", "demo", "--json", "--payments",
                             "5", "--dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    proc.wait(timeout=60)
    assert "Traceback" not in proc.stderr.read().decode()
    proc.stderr.close()


SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/samples is not beside this checkout")
def test_parse_prints_normalized_json_and_refuses_bad_files_in_one_line(tmp_path: Path):
    sample = SAMPLES / "camt054" / "fi-danske__camt.054.001.02.xml"
    done = bankgate("parse", str(sample), "--json")
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    assert parsed["format"] == "camt.054.001.02"
    [entry, _] = parsed["statements"][0]["entries"]
    assert entry["amount"] == "183.00" and len(entry["transactions"]) == 2
    wrong = bankgate("parse", str(SAMPLES / "camt053" / "genkgo__camt053.v2.wrong.xml"))
    assert wrong.returncode == 2 and "/Document" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    other = tmp_path / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    unknown = bankgate("parse", str(other))
    assert unknown.returncode == 2 and "unknown format" in unknown.stderr
    mismatch = bankgate("parse", str(sample), "--format", "camt.053")
    assert mismatch.returncode == 2 and "expected camt.053" in mismatch.stderr


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/samples is not beside this checkout")
@pytest.mark.parametrize(("name", "profile"), [("cmb.csv", "csv:cmb_debit"),
                                               ("icbc-debit-v1.csv", "csv:icbc_debit_v1"),
                                               ("boc.csv", "csv:boc_credit")])
def test_parse_detects_chinese_bank_csv_exports(name: str, profile: str):
    done = bankgate("parse", str(SAMPLES / "cn-csv" / name))
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    assert parsed["format"] == profile and parsed["statements"][0]["entries"]


def test_export_pain001_writes_a_valid_file_and_refuses_float_amounts(tmp_path: Path):
    payments = {"debtor": {"account": "6222020200001000001", "name": "示例科技有限公司",
                           "currency": "CNY", "bank": "icbc"},
                "execution_date": "2099-11-24",
                "payments": [{"payee": {"name": "张三", "account": "6214830200009000002",
                                        "bank": "cmb"}, "amount": "8650.00",
                              "currency": "CNY"}]}
    source = tmp_path / "payments.json"
    source.write_text(json.dumps(payments, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "pain.xml"
    done = bankgate("export", "pain001", str(source), "--version", "09", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert b"pain.001.001.09" in out.read_bytes() and b"<CtrlSum>8650.00</CtrlSum>" in \
        out.read_bytes()
    payments["payments"][0]["amount"] = 8650.0
    source.write_text(json.dumps(payments, ensure_ascii=False), encoding="utf-8")
    refused = bankgate("export", "pain001", str(source), "--version", "03")
    assert refused.returncode == 2 and "/payments/0/amount" in refused.stderr
