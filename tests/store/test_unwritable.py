"""I-06: a store that cannot write (disk full, read-only) gives one clear error naming the
store, commits nothing, and stays consistent: after space is freed the same work succeeds."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import StoreUnwritable
from bankgate.services._tx import in_transaction
from bankgate.store import UnitOfWork, make_engine
from tests.formats.camt_files import write_camt053
from tests.store.test_raw_sealed import CONFIG  # an account the generated files are for


def _read_only(url: str) -> str:
    """The same store, opened so that every transaction is read-only."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    if parsed.get_backend_name() == "postgresql":
        return f"{url}%20-cdefault_transaction_read_only%3Don"
    return f"{url}?init_command=SET SESSION TRANSACTION READ ONLY"


def _audit(unit: UnitOfWork) -> None:
    unit.audit.append(AuditRecord(at=datetime.now(UTC), actor="test", action="test.write",
                                  subject_kind="request", subject_id="i06"))


def test_i06_a_read_only_store_refuses_the_write_naming_the_store_and_keeps_nothing(
        any_store_url: str) -> None:
    engine, frozen = make_engine(any_store_url), make_engine(_read_only(any_store_url))
    try:
        with pytest.raises(StoreUnwritable, match=r"cannot write: .*nothing of this work was "
                                                   r"committed") as refused:
            in_transaction(lambda: UnitOfWork(frozen), _audit)
        with UnitOfWork(engine) as unit:
            assert unit.audit.count("test.write") == 0
        in_transaction(lambda: UnitOfWork(engine), _audit)  # the store itself is fine
        with UnitOfWork(engine) as unit:
            assert unit.audit.count("test.write") == 1
    finally:
        engine.dispose()
        frozen.dispose()
    password = make_url(any_store_url).password
    assert not password or str(password) not in str(refused.value)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs) to fill up; skipped where mounting is not allowed."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _bankgate(data: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKGATE_DATA_DIR": str(data), "BANKGATE_CONFIG": str(config)}
    env.pop("BANKGATE_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "bankgate", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def _fill(disk: Path) -> Path:
    """Fill the file system to the last byte; the filler file."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def _entries(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(conn.execute("SELECT count(*) FROM statement_entries").fetchone()[0])


def test_i06_bankgate_import_on_a_full_disk_says_so_in_one_line_and_the_store_stays_whole(
        small_disk: Path, tmp_path: Path) -> None:
    config, first, second = tmp_path / "bankgate.toml", tmp_path / "a.xml", tmp_path / "b.xml"
    config.write_text(CONFIG)
    write_camt053(first, 20)
    write_camt053(second, 300)  # the first's 20 entries and 280 more
    data = small_disk / "var"
    done = _bankgate(data, config, "import", str(first))
    assert done.returncode == 0, done.stderr
    db = data / "bankgate.db"
    before = _entries(db)
    filler = _fill(small_disk)
    full = _bankgate(data, config, "import", str(second))
    message = [line for line in full.stderr.splitlines() if "WARNING" not in line]
    assert full.returncode == 1 and len(message) == 1, full.stderr
    assert message[0].startswith(f"error: the store at sqlite:///{db} cannot write: ")
    assert "Traceback" not in full.stderr and "internal error" not in full.stderr
    filler.unlink()
    assert _entries(db) == before  # nothing half-written, the file not corrupt
    again = _bankgate(data, config, "import", str(second))
    assert again.returncode == 0, again.stderr
    assert _entries(db) > before
