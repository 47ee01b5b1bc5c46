"""The raw archive's chunks: a file too big to keep inline in `raw_files` (L-06).

`raw_files` keeps every file's metadata (sha256, name, origin, size, received_at) and, for a
file of at most `INLINE_MAX` bytes, the bytes in `content`. A larger file has `content` empty
and `chunks` > 0: its bytes are the `data` of its `chunks` rows here, in `seq` order, each of
at most `CHUNK` bytes, written and read one at a time so memory stays bounded.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String, Table
from sqlalchemy.dialects import mysql

from bankgate.store.tables import metadata

CHUNK = 1 << 20  # bytes in one chunk row (MariaDB MEDIUMBLOB holds 16 MiB)
INLINE_MAX = 60 * 1024  # a file this small stays in raw_files.content (MariaDB BLOB: 64 KiB)

#: MariaDB's plain BLOB stops at 64 KiB; a chunk needs MEDIUMBLOB there.
ChunkBytes = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")

raw_file_chunks = Table(
    "raw_file_chunks", metadata,
    Column("sha256", String(64), ForeignKey("raw_files.sha256"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),  # 0, 1, … in file order
    Column("data", ChunkBytes, nullable=False),
)
