"""Where the master key of secrets at rest comes from (crypto/master_key.py), and that a
restart with the same key reads what was sealed before (issue 5, INV-7)."""

from __future__ import annotations

import logging
import secrets
import stat
from pathlib import Path

import pytest

from bankgate.bootstrap import build_app
from bankgate.crypto.master_key import resolve_master_key
from bankgate.errors import ConfigError
from bankgate.settings import Settings
from bankgate.store import UnitOfWork, make_engine, migrate
from tests.builders import NOW, an_account


def test_the_environment_key_comes_first() -> None:
    key = secrets.token_bytes(32)
    found = resolve_master_key(beside=None, ephemeral_ok=False,
                               env={"BANKGATE_SECRET_KEY": key.hex()})
    assert (found.key, found.source) == (key, "BANKGATE_SECRET_KEY")
    assert key.hex() not in repr(found)


def test_a_sqlite_file_without_a_key_gets_one_beside_it_0600_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = tmp_path / "bankgate.db"
    with caplog.at_level(logging.WARNING, logger="bankgate.crypto.master_key"):
        first = resolve_master_key(beside=database, ephemeral_ok=False, env={})
    path = tmp_path / "bankgate.db.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "beside the database" in caplog.text and "not for production" in caplog.text
    assert first.key.hex() not in caplog.text
    again = resolve_master_key(beside=database, ephemeral_ok=False, env={})
    assert again.key == first.key and again.source == f"key file {path}"
    assert list(tmp_path.iterdir()) == [path]  # no draft left behind


def test_a_server_store_without_a_key_names_the_variables() -> None:
    with pytest.raises(ConfigError, match=r"BANKGATE_SECRET_KEY .* or BANKGATE_SECRET_KEY_FILE"):
        resolve_master_key(beside=None, ephemeral_ok=False, env={}, where="postgresql")


def test_an_in_memory_store_gets_an_ephemeral_key() -> None:
    one = resolve_master_key(beside=None, ephemeral_ok=True, env={})
    two = resolve_master_key(beside=None, ephemeral_ok=True, env={})
    assert one.key != two.key and one.source.startswith("ephemeral")


def test_an_unusable_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "bankgate.db.key").write_text("not a key\n")
    with pytest.raises(ConfigError, match="must be 32 bytes"):
        resolve_master_key(beside=tmp_path / "bankgate.db", ephemeral_ok=False, env={})


def test_a_restart_with_the_key_file_beside_the_database_reads_the_sealed_numbers(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bankgate.db'}"
    engine = make_engine(url, env={})
    migrate(engine)
    with UnitOfWork(engine) as unit:
        unit.accounts.add(an_account(), at=NOW)
        unit.commit()
    engine.dispose()
    restarted = make_engine(url, env={})
    try:
        with UnitOfWork(restarted) as unit:
            assert unit.accounts.get("acc-icbc").number.reveal() == "6222020200001000001"
    finally:
        restarted.dispose()


def test_totp_secrets_are_sealed_under_the_store_s_key_and_survive_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sealer of build_app is the store's box: what one process sealed, the next opens."""
    monkeypatch.delenv("BANKGATE_SECRET_KEY", raising=False)
    monkeypatch.delenv("BANKGATE_SECRET_KEY_FILE", raising=False)
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'bankgate.db'}")
    first = build_app(settings, {})
    sealed = first.sealer.seal(b"JBSWY3DPEHPK3PXP", context=b"cred-1")
    first.close()
    second = build_app(settings, {})
    try:
        assert second.sealer.open(sealed, context=b"cred-1") == b"JBSWY3DPEHPK3PXP"
    finally:
        second.close()
    assert (tmp_path / "bankgate.db.key").exists()
