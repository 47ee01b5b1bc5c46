"""`bankgate policy explain / simulate / check` and `bankgate users` as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

from bankgate.policy import builtin_policy_text
from tests.cli.test_cli import bankgate
from tests.control_world import control_world


def test_explain_says_which_rule_applied_and_simulate_compares_policies(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    world = control_world(url, tmp_path)
    small, medium = world.orders("10.00", "5000.00")
    world.app.close()
    env = {"BANKGATE_DB_URL": url}
    explained = bankgate("policy", "explain", medium.id, env=env)
    assert explained.returncode == 0, explained.stderr
    assert "rule tier[1] 'medium'" in explained.stdout
    assert "1000.00 ≤ amount < 10000.00" in explained.stdout
    assert "requires: 1 approval (approver) + TOTP step-up" in explained.stdout
    candidate = tmp_path / "loose.toml"
    candidate.write_bytes(builtin_policy_text("straight-through"))
    table = bankgate("policy", "simulate", str(candidate), env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("changed") == 1 and "(2 orders)" in table.stdout
    simulated = json.loads(bankgate("policy", "simulate", str(candidate), "--json",
                                    env=env).stdout)
    by_id = {o["id"]: o for o in simulated["orders"]}
    assert by_id[medium.id]["in_force"] == {"rule": "tier[1] 'medium'",
                                            "requires": "1 approval (approver) + TOTP step-up"}
    assert by_id[medium.id]["candidate"] == {"rule": "unmatched",
                                             "requires": "straight-through"}
    assert by_id[small.id]["in_force"]["requires"] == "straight-through"


def test_a_bad_policy_file_is_one_line_and_exit_2(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('schema = 1\nname = "x"\n[unmatched]\napprovals = 1\nroles = ["approver"]\n'
                   '[[tier]]\nid = "t"\ncurrencies = ["CNY"]\namount_below = 100.5\n'
                   'require = { approvals = 0 }\n', encoding="utf-8")
    done = bankgate("policy", "check", str(bad),
                    env={"BANKGATE_DB_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {bad}: tier[0].amount_below: 100.5 is a float; write amounts as decimal "
        'strings like "50000.00"']
