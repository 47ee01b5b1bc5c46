"""Small dialect helpers shared by the repositories (the only place that knows the dialects)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table

__all__ = ["dialect", "insert_ignore"]


def dialect(conn: Connection) -> str:
    """'sqlite', 'postgresql' or 'mysql'."""
    name = conn.dialect.name
    return "mysql" if name == "mariadb" else name


def insert_ignore(conn: Connection, table: Table) -> Any:
    """An INSERT that skips rows whose unique key already exists."""
    # each dialect module is imported when first used (postgresql's pulls in ~45 ms of
    # sub-dialects); the engine's own dialect is loaded already
    name = dialect(conn)
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects import mysql

    return mysql.insert(table).prefix_with("IGNORE")
