"""A sandbox bank's books on disk (K-18): the ledger's whole state in one SQLite file.

`bankgate sandbox --ledger FILE` makes the banks durable, as a real bank's books are: every
change is written (one transaction, `synchronous=FULL`) before the bank answers, so a bank
killed with SIGKILL and started again on the same file holds every order and booking it had
answered for or was about to. The state is small (a sandbox world), so it is written whole;
it is pickled because it is the sandbox's own memory, read back only by the sandbox that
wrote it (never a file from elsewhere).
"""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["LedgerFile"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB)"


class LedgerFile:
    """The one row holding a ledger's state; the caller serialises access (the ledger lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def load(self) -> dict[str, Any] | None:
        """The state last saved, or None for a new file."""
        row = self._db.execute("SELECT state FROM ledger WHERE id = 1").fetchone()
        return None if row is None else pickle.loads(row[0])  # noqa: S301 - our own file

    def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state, durably, before returning."""
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        self._db.execute("INSERT INTO ledger (id, state) VALUES (1, ?) "
                         "ON CONFLICT (id) DO UPDATE SET state = excluded.state", (blob,))

    def close(self) -> None:
        """Close the file."""
        self._db.close()
