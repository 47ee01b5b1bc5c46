"""Engines for the three stores: SQLite (embedded default), PostgreSQL, MySQL/MariaDB.

Nothing connects at import time. SQLite runs in WAL mode and every transaction starts with
BEGIN IMMEDIATE, so two writers queue on the lock instead of failing half-way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bankgate.crypto.master_key import MasterKey, resolve_master_key
from bankgate.errors import ConfigError
from bankgate.store.sealed import attach_cipher

__all__ = ["dialect_of", "make_engine"]


def make_engine(url: str, *, pool_size: int = 5, pool_timeout_s: float = 10.0,
                env: Mapping[str, str] | None = None) -> Engine:
    """An engine for `url`; `sqlite:///path`, `postgresql+psycopg://...`, `mysql+pymysql://...`.

    Its sealed columns use the master key `env` (default: the process environment) names, or
    the key file beside a SQLite database (crypto/master_key.py), resolved on first use.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"BANKGATE_DB_URL: {exc}") from exc
    backend = parsed.get_backend_name()
    engine = _engine(url, parsed, backend, pool_size, pool_timeout_s)
    attach_cipher(engine, _key_resolver(backend, parsed.database, env))
    return engine


def _key_resolver(backend: str, database: str | None,
                  env: Mapping[str, str] | None) -> Callable[[], MasterKey]:
    """How this store finds its master key, on first use (crypto/master_key.py)."""
    in_memory = backend == "sqlite" and (not database or database == ":memory:")
    beside = Path(database).resolve() if backend == "sqlite" and not in_memory and database \
        else None
    where = f"BANKGATE_DB_URL ({backend})"
    return lambda: resolve_master_key(beside=beside, ephemeral_ok=in_memory, env=env,
                                      where=where)


def _engine(url: str, parsed: URL, backend: str, pool_size: int,
            pool_timeout_s: float) -> Engine:
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size,
                             pool_timeout=pool_timeout_s, pool_pre_ping=True)
    if backend in ("mysql", "mariadb"):
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername=f"{backend}+pymysql")
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size,
                             pool_timeout=pool_timeout_s, pool_pre_ping=True,
                             isolation_level="READ COMMITTED")
    raise ConfigError(f"BANKGATE_DB_URL: unsupported database {backend!r} "
                      "(sqlite, postgresql, mysql/mariadb)")


def dialect_of(engine: Engine) -> str:
    """'sqlite', 'postgresql' or 'mysql' (MariaDB included)."""
    name = engine.dialect.name
    return "mysql" if name == "mariadb" else name


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
