"""Administration of the store itself (the interfaces never touch `store/` directly)."""

from __future__ import annotations

from bankgate.store import current_revision, make_engine, migrate

__all__ = ["upgrade_store"]


def upgrade_store(db_url: str) -> str | None:
    """Migrate the store at `db_url` to the newest schema; the revision it is at afterwards."""
    engine = make_engine(db_url)
    try:
        migrate(engine)
        return current_revision(engine)
    finally:
        engine.dispose()
