"""Reconciliation and ledger repositories (filled in below)."""

from __future__ import annotations

from sqlalchemy import Connection

__all__ = ["LedgerRepository", "ReconRepository"]


class ReconRepository:
    """Open items, matches and the line locks that keep an entry in one match."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn


class LedgerRepository:
    """Vouchers and their postings."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
