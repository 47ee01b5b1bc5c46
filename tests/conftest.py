"""Shared fixtures: the store (SQLite and PostgreSQL, the same tests on both), the app.

The PostgreSQL half runs in its own schema per test process and truncates between tests.
Where no PostgreSQL is reachable it is skipped with a clear reason — except in CI
(CI=true), where it fails instead. BANKGATE_TEST_PG_URL overrides the server URL.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bankgate.store import make_engine, migrate
from bankgate.store.tables import metadata

PG_URL = os.environ.get("BANKGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("BANKGATE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The master key of secrets at rest (account numbers, TOTP secrets; crypto/master_key.py): one
# per test process, inherited by every subprocess it starts (`bankgate serve`, workers, demo).
os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
_STORE_RESULTS: dict[str, str] = {}


def _reachable(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: not reachable from here
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"


class _ServerStore:
    """One schema (PostgreSQL) or database (MariaDB) per test process, migrated once."""

    def __init__(self, kind: str, base_url: str) -> None:
        self.kind = kind
        self.name = f"bgtest_{os.getpid()}_{secrets.token_hex(3)}"
        admin = make_engine(base_url)
        with admin.begin() as conn:
            if kind == "postgresql":
                conn.execute(text(f"create schema {self.name}"))
            else:
                conn.execute(text(f"create database {self.name} character set utf8mb4"))
        self.admin = admin
        if kind == "postgresql":
            self.url = f"{base_url}?options=-csearch_path%3D{self.name}"
        else:
            self.url = base_url.rsplit("/", 1)[0] + f"/{self.name}"
        engine = make_engine(self.url)
        migrate(engine)
        engine.dispose()
        self.tables = [t.name for t in reversed(metadata.sorted_tables)]

    def clean(self) -> None:
        engine = make_engine(self.url)
        with engine.begin() as conn:
            if self.kind == "postgresql":
                conn.execute(text(f"truncate {', '.join(self.tables)} restart identity cascade"))
            else:
                conn.execute(text("set foreign_key_checks=0"))
                for table in self.tables:
                    conn.execute(text(f"truncate table {table}"))
                conn.execute(text("set foreign_key_checks=1"))
        engine.dispose()

    def drop(self) -> None:
        with self.admin.begin() as conn:
            if self.kind == "postgresql":
                conn.execute(text(f"drop schema if exists {self.name} cascade"))
            else:
                conn.execute(text(f"drop database if exists {self.name}"))
        self.admin.dispose()


_SERVERS: dict[str, _ServerStore | str] = {}


def _server(kind: str) -> _ServerStore:
    if kind not in _SERVERS:
        base = PG_URL if kind == "postgresql" else MYSQL_URL
        why = _reachable(base)
        _SERVERS[kind] = why if why else _ServerStore(kind, base)
    found = _SERVERS[kind]
    if isinstance(found, str):
        message = f"{kind} not reachable ({found})"
        _STORE_RESULTS[kind] = f"SKIPPED: {message}"
        if IN_CI and kind == "postgresql":
            pytest.fail(f"CI requires PostgreSQL: {message}")
        pytest.skip(message)
    _STORE_RESULTS.setdefault(kind, "ran")
    return found


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


def _store_url(kind: str, tmp_path: Path, template: Path) -> Iterator[str]:
    if kind == "sqlite":
        target = tmp_path / "bankgate.db"
        shutil.copyfile(template, target)
        _STORE_RESULTS.setdefault("sqlite", "ran")
        yield f"sqlite:///{target}"
        return
    server = _server(kind)
    server.clean()
    yield server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty store: SQLite file, then a PostgreSQL schema (same tests, both)."""
    yield from _store_url(request.param, tmp_path, _sqlite_template)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_store_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[str]:
    """Like store_url, and MariaDB too (for store-level tests)."""
    yield from _store_url(request.param, tmp_path, _sqlite_template)


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty SQLite store only (for tests about the embedded default)."""
    yield from _store_url("sqlite", tmp_path, _sqlite_template)


def pytest_testnodedown(node: Any, error: Any) -> None:
    """Under pytest-xdist: what each worker ran (the summary prints on the controller)."""
    for kind, result in getattr(node, "workeroutput", {}).get("stores", {}).items():
        if _STORE_RESULTS.get(kind) != "ran":
            _STORE_RESULTS[kind] = result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the store results to the controller
        workeroutput["stores"] = dict(_STORE_RESULTS)
    for server in _SERVERS.values():
        if isinstance(server, _ServerStore):
            server.drop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = [f"  {kind}: {result}" for kind, result in sorted(_STORE_RESULTS.items())]
    if "postgresql" not in _STORE_RESULTS:
        lines.append("  postgresql: no test asked for it")
    terminalreporter.write_sep("-", "stores")
    for line in lines:
        terminalreporter.write_line(line)
