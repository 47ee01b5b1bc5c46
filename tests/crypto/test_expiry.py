"""I-10: certificates, token PINs and bank credentials are warned about well before expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bankgate.cli.main import cli
from bankgate.crypto.pki import Usage, issue_certificate, issue_test_pki
from bankgate.errors import ConfigError
from bankgate.services.expiry import Expiring, Level, check_expiry, watch_file

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


def test_items_inside_the_window_are_due_and_past_ones_expired() -> None:
    items = [Expiring("certificate", "far", NOW + 90 * DAY),
             Expiring("token_pin", "ukey", NOW + 10 * DAY),
             Expiring("credential", "icbc password", NOW - DAY)]
    findings = check_expiry(items, now=NOW, warn_days=30)
    assert [(f.item.name, f.level) for f in findings] == [
        ("icbc password", Level.EXPIRED), ("ukey", Level.DUE), ("far", Level.OK)]
    assert findings[1].line().startswith("DUE token_pin ukey: expires on")


def test_a_watch_file_names_certificates_tokens_and_credentials(tmp_path: Path) -> None:
    pki = issue_test_pki(tmp_path / "pki")
    issue_certificate(pki, "soon", usage=Usage.CLIENT, not_before=NOW - DAY,
                      not_after=NOW + 5 * DAY)
    watch = tmp_path / "watch.toml"
    watch.write_text(f"""
[security]
warn_days = 14
[[security.certificate]]
name = "icbc client"
path = "pki/soon.pem"
[[security.token]]
label = "ukey-icbc"
pin_changed_on = {(NOW - 170 * DAY).date().isoformat()}
pin_max_age_days = 180
[[security.credential]]
bank = "cmb"
name = "host API password"
expires_on = {(NOW + 200 * DAY).date().isoformat()}
""")
    items, warn = watch_file(watch)
    assert warn == 14
    levels = {f.item.name: f.level for f in check_expiry(items, now=NOW, warn_days=warn)}
    assert levels == {"icbc client": Level.DUE, "ukey-icbc": Level.DUE,
                      "cmb host API password": Level.OK}


def test_a_broken_entry_is_named(tmp_path: Path) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text("[[token]]\nlabel = 'x'\npin_changed_on = 'soon'\npin_max_age_days = 9\n")
    with pytest.raises(ConfigError, match=r"token\[0\]: pin_changed_on must be a date"):
        watch_file(watch)


def test_cli_security_expiry_warns_and_exits_1_when_something_is_due(tmp_path: Path) -> None:
    pki = issue_test_pki(tmp_path / "pki")
    soon, _ = issue_certificate(pki, "soon", not_before=NOW - DAY, not_after=NOW + 3 * DAY)
    runner = CliRunner()
    due = runner.invoke(cli, ["security", "expiry", "--cert", str(soon)])
    assert due.exit_code == 1 and "DUE certificate soon.pem" in due.output
    fine = runner.invoke(cli, ["security", "expiry", "--cert", str(pki.client_cert)])
    assert fine.exit_code == 0 and "OK certificate client.pem" in fine.output
    broken = runner.invoke(cli, ["security", "expiry", "--config", str(tmp_path / "none")])
    assert broken.exit_code == 2 and "cannot read the expiry watch" in broken.output


def test_cli_security_unlock_clears_the_gateways_pin_lock(sqlite_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from bankgate.store import make_engine
    from bankgate.store.security import SqlPinCounterStore

    engine = make_engine(sqlite_url)
    store = SqlPinCounterStore(engine)
    for _ in range(5):
        store.record_failure("ukey#123", NOW)
    monkeypatch.setenv("BANKGATE_DB_URL", sqlite_url)
    out = CliRunner().invoke(cli, ["security", "unlock", "ukey#123"])
    assert out.exit_code == 0 and "5 wrong PIN(s) cleared" in out.output
    assert store.failures("ukey#123") == 0
    engine.dispose()
