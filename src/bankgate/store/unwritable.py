"""A store that cannot write (disk full, read-only) named as such, not as a crash (I-06).

SQLite, PostgreSQL and MariaDB each say it their own way; `unwritable` recognises them and
gives a `StoreUnwritable` that names the store and what to do. The transaction it broke has
been rolled back whole (SQLite's journal, the servers' own), so nothing half-written stays.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bankgate.errors import StoreUnwritable

__all__ = ["unwritable"]

# SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR (a write that found no space for the journal)
_SQLITE: Final = ("database or disk is full", "readonly database", "disk i/o error")
_SQLSTATES: Final = {"53100": "the disk is full", "53000": "the server is out of resources",
                     "25006": "the database is read-only"}
_MYSQL: Final = {1114: "a table is full", 1021: "the disk is full",
                 1290: "the server runs read-only", 1792: "the transaction is read-only"}


def unwritable(exc: BaseException, url: str = "") -> StoreUnwritable | None:
    """The `StoreUnwritable` that `exc` means, or None if it means something else."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    said = str(orig).strip().splitlines()[0] if orig is not None else str(exc)
    why = None
    if any(text in said.lower() for text in _SQLITE):
        why = said
    elif (state := getattr(orig, "sqlstate", None)) in _SQLSTATES:
        why = f"{_SQLSTATES[state]} ({said})"
    elif (args := getattr(orig, "args", ())) and args[0] in _MYSQL:
        why = f"{_MYSQL[args[0]]} ({said})"
    if why is None:
        return None
    where = f" at {make_url(url).render_as_string(hide_password=True)}" if url else ""
    return StoreUnwritable(f"the store{where} cannot write: {why}; nothing of this work was "
                           "committed. Free disk space (or make the database writable) and "
                           "run it again")
