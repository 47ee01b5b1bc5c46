"""The composition root: a configuration refused halfway leaves nothing open behind it."""

from __future__ import annotations

import gc
import secrets

import pytest
from sqlalchemy import text

from bankgate.bootstrap import build_app
from bankgate.errors import ConfigError
from bankgate.settings import Settings
from bankgate.store import make_engine


def _connections(url: str, application: str) -> int:
    """Open connections of one application name (other tests run beside this one)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "select count(*) from pg_stat_activity where application_name = :name"
            ), {"name": application}).scalar_one())
    finally:
        engine.dispose()


def test_a_refused_bank_configuration_closes_the_stores_connections(store_url: str):
    """Found when an unfinished test fixture left PostgreSQL connections to the garbage
    collector, which then failed unrelated tests with ResourceWarnings."""
    broken = {"banks": {"icbc": {"kind": "hostapi", "base_url": "https://127.0.0.1:1/v1"}}}
    application = f"bg_bootstrap_{secrets.token_hex(4)}"
    url = store_url
    if store_url.startswith("postgresql"):
        url = f"{store_url}&application_name={application}"
    with pytest.raises(ConfigError, match=r"banks\.icbc"):
        build_app(Settings(db_url=url), broken)
    gc.collect()
    if store_url.startswith("postgresql"):
        assert _connections(store_url, application) == 0


def test_the_configuration_may_carry_the_expiry_watch_and_refuses_unknown_sections(
        sqlite_url: str):
    """docs/security.md: the watch may live in the `[security]` table of the configuration."""
    watch = {"security": {"warn_days": 30, "credential": [
        {"bank": "icbc", "name": "host API password", "expires_on": "2027-01-15"}]}}
    build_app(Settings(db_url=sqlite_url), watch).close()
    with pytest.raises(ConfigError, match="unknown section 'securty'"):
        build_app(Settings(db_url=sqlite_url), {"securty": {}})
