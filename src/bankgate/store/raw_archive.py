"""The raw archive: every file kept as received, once per SHA-256, in bounded memory (L-06).

A file of at most `INLINE_MAX` bytes is one `raw_files` row with its bytes in `content`.
A larger one is written `CHUNK` bytes at a time into `raw_file_chunks` and read back the
same way, on SQLite, PostgreSQL and MariaDB alike, so archiving or reading a file of any
size holds about one chunk in memory. All of it happens on the caller's connection, inside
its transaction: a failed import leaves neither the row nor its chunks (K-14).

The bytes are sealed at rest (issue 5, INV-7: a statement names full account numbers): the
inline `content` and each chunk's `data` is its own raw-bytes envelope (`crypto/sealed.py`,
41 bytes more than the plaintext) bound to `raw_files:<sha256>` or
`raw_file_chunks:<sha256>:<seq>`, so a chunk moved to another file or another place in its
file does not open. The sha256 stays the hash of the plaintext (the idempotency key of
imports), and reading back checks the whole file against it, so a dropped or truncated tail
is refused too. A chunk keeps 1 MiB of plaintext; its envelope fits MEDIUMBLOB on MariaDB.
The file's name and origin are kept with account-like numbers masked (a bank's file name may
carry the account: `camt.053_P_CH29…`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, insert, select

from bankgate.domain.parties import mask_numbers
from bankgate.errors import FormatError, SecurityError
from bankgate.store._sql import dialect, insert_ignore
from bankgate.store.sealed import StoreCipher, cipher_of
from bankgate.store.tables import raw_files
from bankgate.store.tables_archive import CHUNK, INLINE_MAX, raw_file_chunks

__all__ = ["archive_bytes", "archive_path", "chunk_context", "copy_raw", "inline_context",
           "raw_chunks", "read_raw"]

_c = raw_file_chunks.c


def inline_context(sha256: str) -> str:
    """The context an inline file's envelope is bound to."""
    return f"raw_files:{sha256}"


def chunk_context(sha256: str, seq: int) -> str:
    """The context of chunk `seq` of the file `sha256`."""
    return f"raw_file_chunks:{sha256}:{seq}"


def archive_bytes(conn: Connection, content: bytes, *, name: str, origin: str,
                  at: datetime) -> str:
    """Keep `content` as received; returns its SHA-256 (stored once per hash)."""
    digest = hashlib.sha256(content).hexdigest()
    view = memoryview(content)
    pieces = (bytes(view[start:start + CHUNK]) for start in range(0, len(content), CHUNK))
    _store(conn, digest, len(content), pieces, name=name, origin=origin, at=at)
    return digest


def archive_path(conn: Connection, path: Path, *, name: str, origin: str,
                 at: datetime) -> str:
    """Keep the file at `path` as received, streamed; returns its SHA-256.

    The file is read twice, a chunk at a time: once for its hash (the row's key), once to
    store it. Raises FormatError if it changed in between (the transaction must roll back).
    """
    digest, size = _sha256_of(path)
    if size <= INLINE_MAX:
        return archive_bytes(conn, path.read_bytes(), name=name, origin=origin, at=at)
    again = hashlib.sha256()
    with path.open("rb") as file:
        def pieces() -> Iterator[bytes]:
            while piece := file.read(CHUNK):
                again.update(piece)
                yield piece

        new = _store(conn, digest, size, pieces(), name=name, origin=origin, at=at)
    if new and again.hexdigest() != digest:
        raise FormatError(name, "", "the file changed while it was being archived")
    return digest


def _store(conn: Connection, digest: str, size: int, pieces: Iterable[bytes], *, name: str,
           origin: str, at: datetime) -> bool:
    """Insert the row (and its chunks when large); False if this hash was archived before."""
    chunked = size > INLINE_MAX
    count = -(-size // CHUNK) if chunked else 0
    box = cipher_of(conn).box
    content = b"" if chunked else box.seal_bytes(b"".join(pieces), inline_context(digest))
    row: dict[str, object] = {
        "sha256": digest, "name": mask_numbers(name)[:255],  # a bank's file name may hold
        "origin": mask_numbers(origin)[:120], "size": size,  # the account number (INV-7)
        "received_at": at, "chunks": count, "content": content}
    if not _inserted(conn, row):
        return False
    if chunked:
        stored = 0
        for seq, piece in enumerate(pieces):
            if seq >= count:
                raise FormatError(name, "", "the file grew while it was being archived")
            data = box.seal_bytes(piece, chunk_context(digest, seq))
            conn.execute(insert(raw_file_chunks).values(sha256=digest, seq=seq, data=data))
            stored += len(piece)
        if stored != size:
            raise FormatError(name, "", "the file changed while it was being archived")
    return True


def _inserted(conn: Connection, row: dict[str, object]) -> bool:
    """Insert-or-ignore on the hash; True if this row was written (not archived before)."""
    statement = insert_ignore(conn, raw_files).values(**row)
    if dialect(conn) == "mysql":  # INSERT IGNORE counts the rows it wrote
        return bool(conn.execute(statement).rowcount == 1)
    # ON CONFLICT DO NOTHING returns the row only when it wrote it (psycopg reports no count)
    return conn.execute(statement.returning(raw_files.c.sha256)).first() is not None


def raw_chunks(conn: Connection, sha256: str) -> Iterator[bytes] | None:
    """The archived bytes with this SHA-256 as pieces of at most `CHUNK` bytes, or None.

    Each chunk is fetched and opened by its own query, so only one is in memory at a time.
    The pieces are checked against the hash as they go: SecurityError (naming the file) for
    a chunk that does not open in its place, or a file that does not hash to `sha256`.
    """
    row = conn.execute(select(raw_files.c.chunks, raw_files.c.content, raw_files.c.name)
                       .where(raw_files.c.sha256 == sha256)).first()
    if row is None:
        return None
    chunks, content, name = row
    cipher = cipher_of(conn)
    if not chunks:
        return _checked(sha256, name, iter([_open(cipher, bytes(content), sha256, name,
                                                  inline_context(sha256), "its content")]))
    return _checked(sha256, name, _fetch(conn, cipher, sha256, name, chunks))


def _open(cipher: StoreCipher, envelope: bytes, sha256: str, name: str, context: str,
          what: str) -> bytes:
    try:
        return cipher.box.open_bytes(envelope, context)
    except SecurityError as exc:
        raise SecurityError(f"raw file {name!r} ({sha256[:16]}…): {what} does not open in "
                            f"its place ({exc})") from exc


def _fetch(conn: Connection, cipher: StoreCipher, sha256: str, name: str,
           chunks: int) -> Iterator[bytes]:
    for seq in range(chunks):
        data = conn.execute(select(_c.data).where(_c.sha256 == sha256, _c.seq == seq)
                            ).scalar_one_or_none()
        if data is None:
            raise LookupError(f"raw file {sha256[:16]}… lacks its chunk {seq}")
        yield _open(cipher, bytes(data), sha256, name, chunk_context(sha256, seq),
                    f"chunk {seq}")


def _checked(sha256: str, name: str, pieces: Iterator[bytes]) -> Iterator[bytes]:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
        if piece:
            yield piece
    if digest.hexdigest() != sha256:
        raise SecurityError(f"raw file {name!r} ({sha256[:16]}…): its bytes do not hash to "
                            "its sha256 (altered or truncated)")


def read_raw(conn: Connection, sha256: str) -> bytes | None:
    """The archived bytes with this SHA-256, whole (for the small files callers hold)."""
    pieces = raw_chunks(conn, sha256)
    return None if pieces is None else b"".join(pieces)


def copy_raw(conn: Connection, sha256: str, out: IO[bytes]) -> int | None:
    """Write the archived bytes to `out` a chunk at a time; the byte count, or None."""
    pieces = raw_chunks(conn, sha256)
    if pieces is None:
        return None
    written = 0
    for piece in pieces:
        out.write(piece)
        written += len(piece)
    return written


def _sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while piece := file.read(CHUNK):
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size
