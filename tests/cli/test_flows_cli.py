"""The flows' verbs as a person uses them (issue 7): real processes, one-line errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.cli.test_cli import bankgate
from tests.flows_world import EMPLOYEES


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"BANKGATE_DB_URL": f"sqlite:///{tmp_path / 'bankgate.db'}",
            "BANKGATE_TOKEN": "", "BANKGATE_SEAL_KEY": "ab" * 32}


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def a_claim(amount: str = "553.00") -> dict:
    today = date.today().isoformat()
    return {"employee_id": "E001", "title": "出差", "lines": [{
        "category": "travel", "cost_centre": "CC-1", "description": "高铁",
        "expense_date": today, "amount": amount,
        "invoice": {"code": "", "number": "26112000000012345678", "issued_on": today,
                    "amount": "507.34", "tax": "45.66", "seller": "中国铁路"}}]}


def test_an_employee_and_a_claim_go_in_and_the_same_invoice_is_refused_after(tmp_path, env):
    name, bank, number, _ = EMPLOYEES["E001"]
    employee = write(tmp_path / "e.json", {"id": "E001", "name": name, "department": "研发部",
                                           "bank": bank, "account": number})
    done = bankgate("claims", "employee", str(employee), env=env)
    assert done.returncode == 0, done.stderr
    assert number not in done.stdout  # masked (INV-7)
    scan = tmp_path / "发票.pdf"
    scan.write_bytes(b"%PDF-1.4 scan")
    claim = write(tmp_path / "c.json", a_claim())
    first = bankgate("claims", "submit", str(claim), "--attach", str(scan), env=env)
    assert first.returncode == 0 and "553.00 CNY in 1 line(s), submitted" in first.stdout
    again = bankgate("claims", "submit", str(claim), env=env)
    assert again.returncode == 2 and "is already claimed on claim" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    listed = json.loads(bankgate("claims", "list", "--json", env=env).stdout)
    assert [c["state"] for c in listed["claims"]] == ["submitted"]


@pytest.mark.parametrize(("args", "says", "code"), [
    (("claims", "approve", "cl_x"), "needs a signed-in user", 1),
    (("payroll", "show", "pr_nope"), "payroll run 'pr_nope' does not exist", 2),
    (("receipts", "list", "--date", "2026-13-01"), "--date: '2026-13-01' is not YYYY-MM-DD", 2),
    (("transfers", "make", "a", "b", "1,00"), "is not a plain decimal", 2),
])
def test_bad_flow_commands_get_one_line_and_a_non_zero_exit(env, args, says, code):
    done = bankgate(*args, env=env)
    assert done.returncode == code and says in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_claim_file_names_the_line_and_field(tmp_path, env):
    done = bankgate("claims", "submit", str(write(tmp_path / "c.json", a_claim("600.00"))),
                    env=env)
    assert done.returncode == 2 and "line 1: claims 600.00 CNY, more than invoice" in done.stderr


def test_bad_sweep_rules_are_refused_before_anything_moves(tmp_path, env):
    rules = tmp_path / "pool.toml"
    rules.write_text('header = "icbc-cny"\n', encoding="utf-8")
    done = bankgate("transfers", "sweep", str(rules), env=env)
    assert done.returncode == 2 and "needs header" in done.stderr


@pytest.mark.slow
def test_the_demo_reports_payroll_claims_a_sweep_and_receipts(tmp_path):
    done = bankgate("demo", "--json", "--payments", "20", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    flows = json.loads(done.stdout)["flows"]
    # one closed card, at boc: the demo reaches boc by SFTP, which offers no account-name
    # check, so the bank itself refuses the line (AC04) and it is not paid
    assert flows["payroll"]["final"] == {"paid": 5, "rejected": 1}
    assert flows["claims"]["duplicate_refused"] and flows["claims"]["final"]["paid"] == 2
    assert flows["sweep"]["transfers"] and set(flows["sweep"]["final"]) <= {"completed"}
    receipts = flows["receipts"]
    assert receipts["new"] == receipts["verified"] > 0 and receipts["missing"] == 0
