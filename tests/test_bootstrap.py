"""The composition root: a configuration refused halfway leaves nothing open behind it."""

from __future__ import annotations

import gc

import pytest
from sqlalchemy import text

from bankgate.bootstrap import build_app
from bankgate.errors import ConfigError
from bankgate.settings import Settings
from bankgate.store import make_engine


def _connections(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "select count(*) from pg_stat_activity where datname = current_database()"
            )).scalar_one())
    finally:
        engine.dispose()


def test_a_refused_bank_configuration_closes_the_stores_connections(store_url: str):
    """Found when an unfinished test fixture left PostgreSQL connections to the garbage
    collector, which then failed unrelated tests with ResourceWarnings."""
    broken = {"banks": {"icbc": {"kind": "hostapi", "base_url": "https://127.0.0.1:1/v1"}}}
    before = _connections(store_url) if store_url.startswith("postgresql") else 0
    with pytest.raises(ConfigError, match=r"banks\.icbc"):
        build_app(Settings(db_url=store_url), broken)
    gc.collect()
    if store_url.startswith("postgresql"):
        assert _connections(store_url) == before
