"""The raw archive keeps every file as received, in bounded memory, once (L-06, K-14)."""

from __future__ import annotations

import hashlib
import io
import math
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bankgate.store import make_engine
from bankgate.store.raw_archive import archive_bytes, archive_path, copy_raw, raw_chunks
from bankgate.store.tables import raw_files
from bankgate.store.tables_archive import CHUNK, INLINE_MAX, raw_file_chunks

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SIZES = {"empty": 0, "small": 1_234, "multi-chunk": 2 * CHUNK + 77}


@pytest.fixture
def engine(any_store_url):
    """SQLite, PostgreSQL and MariaDB: the round trips."""
    engine = make_engine(any_store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(store_url):
    """SQLite and PostgreSQL."""
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def _chunk_rows(conn, sha256: str | None = None) -> int:
    query = select(func.count()).select_from(raw_file_chunks)
    if sha256 is not None:
        query = query.where(raw_file_chunks.c.sha256 == sha256)
    return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize("kind", SIZES)
def test_a_file_archived_from_bytes_comes_back_byte_for_byte_with_its_sha256(engine, kind):
    content = os.urandom(SIZES[kind])
    with engine.begin() as conn:
        digest = archive_bytes(conn, content, name=f"{kind}.bin", origin="test", at=AT)
    with engine.connect() as conn:
        back = b"".join(raw_chunks(conn, digest) or [b"missing"])
        row = conn.execute(select(raw_files).where(raw_files.c.sha256 == digest)).one()
        pieces = _chunk_rows(conn, digest)
    assert back == content
    assert digest == hashlib.sha256(back).hexdigest() == row.sha256
    assert row.size == len(content)
    expected = math.ceil(len(content) / CHUNK) if len(content) > INLINE_MAX else 0
    assert (row.chunks, pieces) == (expected, expected)


@pytest.mark.parametrize("kind", SIZES)
def test_a_file_archived_from_disk_is_streamed_and_copied_back_whole(engine, kind, tmp_path):
    path = tmp_path / f"{kind}.bin"
    path.write_bytes(os.urandom(SIZES[kind]))
    with engine.begin() as conn:
        digest = archive_path(conn, path, name=path.name, origin="test", at=AT)
    out = io.BytesIO()
    with engine.connect() as conn:
        written = copy_raw(conn, digest, out)
    assert out.getvalue() == path.read_bytes() and written == path.stat().st_size
    assert digest == hashlib.sha256(out.getvalue()).hexdigest()


def test_a_file_archived_twice_keeps_one_row_and_one_set_of_chunks(store, tmp_path):
    path = tmp_path / "twice.bin"
    path.write_bytes(os.urandom(CHUNK + 1))
    with store.begin() as conn:
        first = archive_path(conn, path, name="one", origin="test", at=AT)
        second = archive_bytes(conn, path.read_bytes(), name="two", origin="test", at=AT)
    with store.connect() as conn:
        assert first == second
        assert _chunk_rows(conn) == 2
        assert conn.execute(select(raw_files.c.name)).scalars().all() == ["one"]


def test_an_archive_rolled_back_leaves_neither_the_row_nor_its_chunks(store, tmp_path):
    path = tmp_path / "gone.bin"
    path.write_bytes(os.urandom(3 * CHUNK))
    with pytest.raises(RuntimeError), store.begin() as conn:
        archive_path(conn, path, name="gone", origin="test", at=AT)
        assert _chunk_rows(conn) == 3
        raise RuntimeError("the import failed after archiving")
    with store.connect() as conn:
        assert _chunk_rows(conn) == 0
        assert conn.execute(select(func.count()).select_from(raw_files)).scalar_one() == 0


def test_an_unknown_sha256_has_no_bytes(store):
    with store.connect() as conn:
        assert raw_chunks(conn, "0" * 64) is None
        assert copy_raw(conn, "0" * 64, io.BytesIO()) is None
