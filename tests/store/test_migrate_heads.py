"""`migrate` recognises a store at the newest schema without Alembic, and only that store."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from bankgate.store import current_revision, make_engine, migrate
from bankgate.store.migrate import alembic_config, script_heads


def test_the_heads_read_from_the_scripts_are_alembics_heads(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        expected = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    finally:
        engine.dispose()
    assert script_heads() == frozenset(expected)


def test_a_store_behind_the_newest_schema_is_still_upgraded_by_alembic(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        migrate(engine, "0001")
        assert current_revision(engine) == "0001"
        migrate(engine)
        assert set((current_revision(engine) or "").split("+")) == script_heads()
        migrate(engine)  # at the heads: nothing to do, nothing changes
        assert set((current_revision(engine) or "").split("+")) == script_heads()
    finally:
        engine.dispose()
