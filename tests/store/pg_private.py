"""A private PostgreSQL server for one test, so that test may restart it (I-01, I-02).

The shared server at 127.0.0.1:5432 serves every other test at once and must never be
restarted; this one is a throwaway cluster made with Debian's `initdb` on a free port (trust
auth for the test's own loopback, unix socket in its data directory), migrated with the
project's own `migrate()`. PostgreSQL refuses to run as root, so under root the binaries run
as the `postgres` user (`runuser`) and the cluster lives in a directory that user owns (a
pytest `tmp_path` is private to root). Skipped, with the reason, where the binaries or the
user are missing — except in CI, where that fails.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bankgate.store import make_engine, migrate
from tests.conftest import IN_CI

__all__ = ["PrivatePostgres", "private_pg"]


def _bin_dir() -> Path | None:
    """The newest Debian PostgreSQL binaries (`/usr/lib/postgresql/<major>/bin`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """One cluster: `start()`, `restart()`, `stop()`; `url` for SQLAlchemy."""

    def __init__(self, bin_dir: Path, base: Path, *, as_user: str | None) -> None:
        self.bin_dir, self.base, self.as_user = bin_dir, base, as_user
        self.data = base / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.outages = 0

    def _run(self, tool: str, *args: str, timeout_s: float = 60) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}\n{tail}")

    def init(self) -> None:
        """Make the cluster: trust auth, fsync off (a test server: only the operating system
        crashing could lose what it commits; a server stopped with `-m immediate` does not,
        as synchronous commit stays on)."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-instructions", "--no-sync")
        options = (f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                   f"unix_socket_directories = '{self.data}'\nfsync = off\n"
                   "max_connections = 40\nshared_buffers = 16MB\n")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(options)

    def _pg_ctl(self, verb: str, *extra: str) -> None:
        self._run("pg_ctl", verb, "-D", str(self.data), "-l", str(self.base / "server.log"),
                  "-w", "-t", "30", *extra)

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self._pg_ctl("start")

    def restart(self, mode: str = "fast") -> float:
        """`pg_ctl restart -m <mode>`: every session is cut; returns the seconds it took."""
        began = time.monotonic()
        self._pg_ctl("restart", "-m", mode)
        self.outages += 1
        return time.monotonic() - began

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m <mode>` ("immediate": as if it crashed; it recovers on start)."""
        self._pg_ctl("stop", "-m", mode)
        self.outages += 1

    def is_running(self) -> bool:
        """Whether the postmaster's pid file is there (it is removed on a clean stop)."""
        return (self.data / "postmaster.pid").exists()


def _skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI requires a private PostgreSQL for restart tests: {reason}")
    pytest.skip(reason)


def _make_base() -> tuple[Path, str | None]:
    """A directory for the cluster and the user to run the server as (None: ourselves)."""
    base = Path(tempfile.mkdtemp(prefix="bankgate-pg-"))
    if os.geteuid() != 0:
        return base, None
    if shutil.which("runuser") is None:
        shutil.rmtree(base)
        _skip_or_fail("running as root and no `runuser` to start PostgreSQL as postgres")
    try:
        shutil.chown(base, user="postgres", group="postgres")
    except (LookupError, PermissionError) as exc:
        shutil.rmtree(base)
        _skip_or_fail(f"running as root and no `postgres` user to run initdb as ({exc})")
    return base, "postgres"


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A started, migrated private PostgreSQL; stopped and deleted after the test."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        _skip_or_fail("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl)")
        return
    base, as_user = _make_base()
    server = PrivatePostgres(bin_dir, base, as_user=as_user)
    try:
        try:
            server.init()
            server.start()
        except RuntimeError as exc:
            _skip_or_fail(f"could not start a private PostgreSQL: {exc}")
        engine = make_engine(server.url)
        migrate(engine)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        yield server
    finally:
        if server.is_running():
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
