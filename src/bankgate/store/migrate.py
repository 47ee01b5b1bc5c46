"""Schema migrations with Alembic, run programmatically (`bankgate db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from bankgate.store.unwritable import unwritable

__all__ = ["alembic_config", "current_revision", "migrate"]

_HERE = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine`, with the scripts shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the database to `revision` (idempotent).

    "heads": every branch of the migration tree. Features add their tables in their own
    migration revising 0001 (a branch), so parts of the schema can land independently.
    """
    try:
        command.upgrade(alembic_config(engine), revision)
    except DBAPIError as exc:
        full = unwritable(exc, str(engine.url))
        if full is None:
            raise
        raise full from exc


def current_revision(engine: Engine) -> str | None:
    """The revision(s) the database is at ("a+b" for several branches), or None if empty."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return "+".join(sorted(heads)) if heads else None
