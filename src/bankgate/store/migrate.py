"""Schema migrations with Alembic, run programmatically (`bankgate db upgrade`).

Every process that opens the store calls `migrate`; a store already at the newest schema is
recognised without Alembic (its version table against the heads read from the scripts'
source), which spares each start loading Alembic and every script (~0.25 s).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from bankgate.store.unwritable import unwritable

if TYPE_CHECKING:  # alembic (~0.15 s to import) loads when a migration runs, not before
    from alembic.config import Config

__all__ = ["alembic_config", "current_revision", "migrate", "script_heads"]

_HERE = Path(__file__).parent / "migrations"
#: `revision = "0001"` and `down_revision = None | "0001" | ("0002", "0003")`, either
#: annotated or not, as Alembic's templates write them
_REVISION: Final = re.compile(r"""^revision(?:\s*:[^=\n]+)?\s*=\s*["']([^"']+)["']""", re.M)
_DOWN_REVISION: Final = re.compile(
    r"""^down_revision(?:\s*:[^=\n]+)?\s*=\s*(None|\([^)]*\)|["'][^"']*["'])""", re.M)
_QUOTED: Final = re.compile(r"""["']([^"']+)["']""")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine`, with the scripts shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the database to `revision` (idempotent).

    "heads": every branch of the migration tree. Features add their tables in their own
    migration revising 0001 (a branch), so parts of the schema can land independently.
    """
    if revision == "heads" and _at_heads(engine):
        return  # what Alembic would find too: nothing to do
    from alembic import command

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


def script_heads() -> frozenset[str] | None:
    """The head revisions of the shipped scripts, read from their source; None if unsure.

    A head is a revision no other script names as its `down_revision` (what Alembic's
    `heads` are); a script whose two assignments cannot be read makes the answer None.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (_HERE / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions - parents) or None


def _at_heads(engine: Engine) -> bool:
    """True when the store's version table holds exactly the scripts' heads."""
    heads = script_heads()
    if heads is None:
        return False
    try:
        with engine.connect() as conn:
            found = {row[0] for row in conn.execute(text("SELECT version_num FROM "
                                                         "alembic_version"))}
    except DBAPIError:  # no version table yet (a new store), or unreadable: Alembic decides
        return False
    return found == heads
