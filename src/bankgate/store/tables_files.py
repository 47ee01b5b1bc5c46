"""Tables of the file channel: every file transfer, in and out, by bank, name and SHA-256.

A row per (bank, direction, name, content): the same file listed again finds its row; the
same content under another name is a second row marked `duplicate`; another content under
a name already seen is a row marked `conflict`. The bytes themselves are in `raw_files`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from bankgate.store.tables import UtcDateTime, metadata, serial_id

__all__ = ["file_transfers"]

file_transfers = Table(
    "file_transfers", metadata,
    serial_id(),
    Column("bank", String(32), nullable=False),
    Column("direction", String(3), nullable=False),  # "in" or "out"
    Column("name", String(200), nullable=False),
    Column("sha256", String(64), ForeignKey("raw_files.sha256"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(16)),  # pain.001, pain.002, camt.053, ... as the name announces
    Column("state", String(16), nullable=False),
    Column("batch_id", String(40)),
    Column("remote_mtime", BigInteger),
    Column("detail", Text),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    Index(None, "bank", "direction", "name", "sha256", unique=True),
    Index(None, "bank", "direction", "sha256"),
)
