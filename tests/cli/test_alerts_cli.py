"""`bankgate worker` runs the expiry watch; `bankgate alerts` lists, `alerts ack` acknowledges
(issue 5, I-10). Real processes on a real SQLite store; errors are one line.

Each command's first run is a process of its own; a command run again for its next answer
runs in this process (`in_process`): the same CLI code, without ~1.8 s of interpreter start.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bankgate.bootstrap import build_app
from bankgate.cli.main import cli
from bankgate.crypto.pki import Usage, issue_certificate, issue_test_pki
from bankgate.services.users import create_user, login
from bankgate.settings import Settings
from tests.cli.test_cli import bankgate

NOW = datetime.now(UTC)


def in_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`bankgate *args` run by the same command tree in this process (exit code, out, err)."""
    done = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    pki = issue_test_pki(tmp_path / "pki")
    issue_certificate(pki, "icbc-client", usage=Usage.CLIENT, not_before=NOW - timedelta(days=300),
                      not_after=NOW + timedelta(days=20, hours=1))
    config = tmp_path / "bankgate.toml"
    config.write_text('[security]\nwarn_days = 30\n[[security.certificate]]\n'
                      'name = "icbc 6222020200001000001 client"\npath = "pki/icbc-client.pem"\n',
                      encoding="utf-8")
    return {"BANKGATE_DB_URL": f"sqlite:///{tmp_path / 'bankgate.db'}",
            "BANKGATE_CONFIG": str(config), "BANKGATE_TOKEN": "",
            "BANKGATE_SEAL_KEY": "ab" * 32}


def _session(env: dict[str, str], name: str, role: str) -> str:
    app = build_app(Settings(db_url=env["BANKGATE_DB_URL"]), {})
    try:
        create_user(uow=app.uow, username=name, display_name=name, roles=[role],
                    password="correct horse battery", actor="test:admin", now=app.now)
        return login(uow=app.uow, username=name, password="correct horse battery",
                     address="127.0.0.1", now=app.now)[1]
    finally:
        app.close()


def test_i10_the_worker_raises_the_alert_and_a_treasurer_acknowledges_it_once(env) -> None:
    assert bankgate("worker", "--until-idle", env=env).returncode == 0
    listed = bankgate("alerts", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [alert] = json.loads(listed.stdout)["alerts"]
    assert (alert["kind"], alert["level"]) == ("certificate.expiring", "warn")
    assert "6222020200001000001" not in listed.stdout  # INV-7: masked
    assert alert["subject"].startswith("certificate icbc 6222") and "0001" in alert["subject"]
    table = bankgate("alerts", env={**env, "COLUMNS": "250"})
    assert "certificate.expiring" in table.stdout and "in 20 days" in table.stdout

    maker = bankgate("alerts", "ack", str(alert["id"]), "--token", _session(env, "li", "maker"),
                     env=env)
    assert maker.returncode == 1 and "user:li may not acknowledge alerts" in maker.stderr
    token = _session(env, "zhang", "treasurer_admin")
    done = in_process("alerts", "ack", str(alert["id"]), "--token", token, env=env)
    assert done.returncode == 0, done.stderr
    assert f"alert {alert['id']} (certificate.expiring" in done.stdout
    twice = in_process("alerts", "ack", str(alert["id"]), "--token", token, env=env)
    assert twice.returncode == 1 and "already acknowledged by user:zhang" in twice.stderr
    unknown = in_process("alerts", "ack", "999", "--token", token, env=env)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "error: no alert 999"
    [acked] = json.loads(in_process("alerts", "--all", "--json", env=env).stdout)["alerts"]
    assert acked["acknowledged_by"] == "user:zhang"


def test_ack_without_a_session_says_so_in_one_line(env) -> None:
    done = bankgate("alerts", "ack", "1", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == "error: this action needs a signed-in user (a session token)"
