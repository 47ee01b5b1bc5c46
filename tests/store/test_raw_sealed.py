"""Raw statement files sealed at rest (issue 5, INV-7; L-06, K-14): after `bankgate import`
no row of `raw_files` / `raw_file_chunks` holds the account number, the file reads back byte
for byte, a chunk out of its place is refused naming the file, re-importing adds nothing, and
migration 0014_raw_sealed seals rows written before it (downgrade opens them)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from bankgate.errors import SecurityError
from bankgate.store import UnitOfWork, current_revision, make_engine, migrate
from bankgate.store.migrate import alembic_config
from bankgate.store.raw_archive import archive_bytes, read_raw
from bankgate.store.tables import raw_files
from bankgate.store.tables_archive import CHUNK, raw_file_chunks
from tests.formats.camt_files import write_camt053
from tests.store.test_sealed_migration import _fresh

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
POSTFINANCE = SAMPLES / "camt053" / ("postfinance__camt.053_P_CH2909000000250094239_"
                                     "1110092698_0_2020112503071366.xml")
SAMPLE_NUMBER = b"CH2909000000250094239"
LARGE_NUMBER = b"DE89370400440532013000"  # tests/formats/camt_files.py's account
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CONFIG = """
[[accounts]]
id = "pf-chf"
bank = "postfinance"
number = "CH2909000000250094239"
currency = "CHF"
name = "Demo AG"

[[accounts]]
id = "de-eur"
bank = "demo"
number = "DE89370400440532013000"
currency = "EUR"
name = "Demo GmbH"
"""


def _plain_rows(engine: Engine) -> list[tuple[str, bytes]]:
    """Every stored byte string of the archive, read through a bare engine (no key): the
    content of each `raw_files` row with its name and origin, and each chunk."""
    plain = create_engine(engine.url.render_as_string(hide_password=False), poolclass=NullPool)
    try:
        with plain.connect() as conn:
            inline = [("raw_files", bytes(c) + f" {n} {o}".encode()) for c, n, o in
                      conn.execute(text("select content, name, origin from raw_files"))]
            chunks = [("raw_file_chunks", bytes(d)) for d in
                      conn.execute(text("select data from raw_file_chunks")).scalars()]
    finally:
        plain.dispose()
    return inline + chunks


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(raw_files)).scalar_one(),
                conn.execute(select(func.count()).select_from(raw_file_chunks)).scalar_one())


def _bankgate_import(path: Path, url: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bankgate", "import", str(path)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BANKGATE_DB_URL": url,
                               "BANKGATE_CONFIG": str(config)})


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/samples is not beside this checkout")
def test_inv7_k14_bankgate_import_archives_sealed_reads_back_and_reimports_nothing(
        store_url: str, tmp_path: Path) -> None:
    """A real sample (inline) and a generated 3-chunk camt.053, imported by the command line:
    the account numbers are in no archive row, both read back byte for byte under their
    plaintext SHA-256, and importing both again adds no row (K-14)."""
    config = tmp_path / "bankgate.toml"
    config.write_text(CONFIG, encoding="utf-8")
    large = tmp_path / "large.xml"
    size = write_camt053(large, 5_000)
    assert size > 2 * CHUNK and LARGE_NUMBER in large.read_bytes()[:CHUNK]
    for path in (POSTFINANCE, large):
        done = _bankgate_import(path, store_url, config)
        assert done.returncode == 0, done.stderr
    engine = make_engine(store_url)
    try:
        rows = _plain_rows(engine)
        assert len(rows) == 1 + 1 + 3  # two raw_files rows (one inline), three chunks
        assert [t for t, data in rows if SAMPLE_NUMBER in data or LARGE_NUMBER in data] == []
        assert all(data[:3] == b"BGS" for t, data in rows if data[:1] != b" ")
        with UnitOfWork(engine) as unit:
            for path in (POSTFINANCE, large):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                back = b"".join(unit.statements.raw_chunks(digest) or [b"missing"])
                assert back == path.read_bytes()
        before = _counts(engine)
        for path in (POSTFINANCE, large):
            again = _bankgate_import(path, store_url, config)
            assert again.returncode == 0 and ", 0 new;" in again.stdout, again.stderr
        assert _counts(engine) == before == (2, 3)
    finally:
        engine.dispose()


@pytest.fixture
def engine(any_store_url: str) -> Iterator[Engine]:
    """SQLite, PostgreSQL and MariaDB."""
    engine = make_engine(any_store_url)
    yield engine
    engine.dispose()


def _archive(engine: Engine, content: bytes, name: str) -> str:
    with engine.begin() as conn:
        return archive_bytes(conn, content, name=name, origin="test", at=AT)


def _file(mark: bytes) -> bytes:
    return (mark + LARGE_NUMBER) * (((2 * CHUNK) + 100) // (len(mark) + len(LARGE_NUMBER)))


def _read(engine: Engine, digest: str) -> bytes | None:
    with engine.connect() as conn:
        return read_raw(conn, digest)


def test_inv7_chunks_swapped_moved_or_taken_from_another_file_are_refused_by_name(
        engine: Engine) -> None:
    first, second = _file(b"a"), _file(b"b")
    one, two = _archive(engine, first, "one.xml"), _archive(engine, second, "two.xml")
    assert _read(engine, one) == first and _read(engine, two) == second
    c = raw_file_chunks.c

    def data(sha256: str, seq: int) -> bytes:
        with engine.connect() as conn:
            return bytes(conn.execute(select(c.data).where(c.sha256 == sha256, c.seq == seq))
                         .scalar_one())

    def put(sha256: str, seq: int, value: bytes) -> None:
        with engine.begin() as conn:
            conn.execute(raw_file_chunks.update().where(c.sha256 == sha256, c.seq == seq)
                         .values(data=value))

    zero, first_chunk = data(one, 0), data(one, 1)
    put(one, 0, first_chunk)  # swapped: chunk 1's envelope where chunk 0 belongs
    put(one, 1, zero)
    with pytest.raises(SecurityError, match=r"raw file 'one\.xml' .*chunk 0 does not open"):
        _read(engine, one)
    put(one, 0, zero)
    put(one, 1, data(two, 1))  # from another file, in the same place
    with pytest.raises(SecurityError, match=r"'one\.xml' .*chunk 1 does not open"):
        _read(engine, one)
    put(one, 1, first_chunk)
    assert _read(engine, one) == first
    with engine.begin() as conn:  # the tail dropped: refused by the plaintext hash
        conn.execute(raw_file_chunks.delete().where(c.sha256 == one, c.seq == 2))
        conn.execute(raw_files.update().where(raw_files.c.sha256 == one).values(chunks=2))
    with pytest.raises(SecurityError, match=r"'one\.xml' .*do not hash to its sha256"):
        _read(engine, one)


def test_inv7_an_inline_file_sealed_for_another_file_does_not_open(engine: Engine) -> None:
    small, other = b"<Acct>" + LARGE_NUMBER + b"</Acct>", b"<Acct>" + SAMPLE_NUMBER + b"</Acct>"
    one, two = _archive(engine, small, "small.xml"), _archive(engine, other, "other.xml")
    assert _read(engine, one) == small and _archive(engine, small, "again") == one
    f = raw_files.c
    with engine.begin() as conn:
        envelope = conn.execute(select(f.content).where(f.sha256 == two)).scalar_one()
        conn.execute(raw_files.update().where(f.sha256 == one).values(content=envelope))
    with pytest.raises(SecurityError, match=r"raw file 'small\.xml' .*its content"):
        _read(engine, one)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store_at_0013(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store at 0013_terms with an inline and a chunked raw file written in plain bytes."""
    engine, drop = _fresh(request.param, tmp_path)
    try:
        migrate(engine, "0013_terms")
        yield engine
    finally:
        engine.dispose()
        drop()


def _plain_archive(engine: Engine) -> dict[str, bytes]:
    """Rows as 0013 wrote them: inline content, and 1 MiB chunks of a larger file."""
    small = b"<IBAN>" + SAMPLE_NUMBER + b"</IBAN>"
    large = _file(b"z") + b"tail"
    files = {hashlib.sha256(b).hexdigest(): b for b in (small, large)}
    with engine.begin() as conn:
        for digest, content in files.items():
            count = -(-len(content) // CHUNK) if len(content) > 60 * 1024 else 0
            conn.execute(text("insert into raw_files (sha256, name, origin, size, content, "
                              "received_at, chunks) values (:h, 'f.xml', 'test', :n, :c, :at, "
                              ":k)"), {"h": digest, "n": len(content), "k": count,
                                       "c": b"" if count else content,
                                       "at": AT.replace(tzinfo=None)})
            for seq in range(count):
                conn.execute(text("insert into raw_file_chunks (sha256, seq, data) values "
                                  "(:h, :s, :d)"),
                             {"h": digest, "s": seq, "d": content[seq * CHUNK:(seq + 1) * CHUNK]})
    return files


def test_inv7_migration_0014_seals_rows_written_at_0013_and_downgrade_restores_them(
        store_at_0013: Engine) -> None:
    engine = store_at_0013
    files = _plain_archive(engine)
    before = sorted(_plain_rows(engine))
    assert any(SAMPLE_NUMBER in d for _, d in before) and any(LARGE_NUMBER in d for _, d in before)
    migrate(engine)
    assert "0014_raw_sealed" in current_revision(engine).split("+")
    sealed = _plain_rows(engine)
    assert [t for t, d in sealed if SAMPLE_NUMBER in d or LARGE_NUMBER in d] == []
    assert {digest: _read(engine, digest) for digest in files} == files
    command.stamp(alembic_config(engine), "0013_terms")  # a re-run skips what is sealed
    command.upgrade(alembic_config(engine), "0014_raw_sealed")
    assert sorted(_plain_rows(engine)) == sorted(sealed)
    command.downgrade(alembic_config(engine), "0013_terms")
    command.upgrade(alembic_config(engine), "0014_raw_sealed")  # sealed again, opens again
    assert {digest: _read(engine, digest) for digest in files} == files
    command.downgrade(alembic_config(engine), "0013_terms")
    heads = current_revision(engine).split("+")
    assert "0013_terms" in heads and "0014_raw_sealed" not in heads
    assert sorted(_plain_rows(engine)) == before
