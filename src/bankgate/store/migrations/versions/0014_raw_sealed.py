"""raw sealed: archived statement files encrypted at rest, each chunk in its own envelope

Issue 5 (INV-7): a raw statement file names full account numbers. Every inline
`raw_files.content` becomes a raw-bytes envelope (crypto/sealed.py) bound to
"raw_files:<sha256>", every `raw_file_chunks.data` one bound to "raw_file_chunks:<sha256>:<seq>"
(store/raw_archive.py), under the store's master key (resolved as everywhere:
crypto/master_key.py). The sha256 stays the hash of the plaintext.

Rows are sealed one at a time (a chunk is 1 MiB; the keys are read first, then each row by
itself, so the migration stays in bounded memory). A value that already carries the envelope
magic is left alone, so a re-run changes nothing. The column types already hold the envelope
(41 bytes more): an inline file is at most 60 KiB in a 64 KiB BLOB on MariaDB, a chunk 1 MiB in
a 16 MiB MEDIUMBLOB. The downgrade opens every envelope back (it needs the same key).

Revision ID: 0014_raw_sealed
Revises: 0013_terms
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from bankgate.store.sealed import cipher_of

revision = "0014_raw_sealed"
down_revision = "0013_terms"
branch_labels = None
depends_on = None

_RAW_PREFIX = b"BGS\x01"  # crypto/sealed.py's raw-bytes envelope magic and version

_raw = sa.table("raw_files", sa.column("sha256", sa.String), sa.column("chunks", sa.Integer),
                sa.column("content", sa.LargeBinary))
_chunks = sa.table("raw_file_chunks", sa.column("sha256", sa.String),
                   sa.column("seq", sa.Integer), sa.column("data", sa.LargeBinary))


def upgrade() -> None:
    box = cipher_of(op.get_bind()).box  # no key, no change

    def seal(value: bytes, context: str) -> bytes | None:
        return None if value[:4] == _RAW_PREFIX else box.seal_bytes(value, context)

    _rewrite(seal)


def downgrade() -> None:
    box = cipher_of(op.get_bind()).box

    def unseal(value: bytes, context: str) -> bytes | None:
        return box.open_bytes(value, context) if value[:4] == _RAW_PREFIX else None

    _rewrite(unseal)


def _rewrite(change: Callable[[bytes, str], bytes | None]) -> None:
    """Apply `change` to each inline content and each chunk (None: leave the row alone)."""
    conn = op.get_bind()
    inline = conn.execute(sa.select(_raw.c.sha256).where(_raw.c.chunks == 0)
                          .order_by(_raw.c.sha256)).scalars().all()
    for sha256 in inline:
        content = conn.execute(sa.select(_raw.c.content)
                               .where(_raw.c.sha256 == sha256)).scalar_one()
        new = change(bytes(content), f"raw_files:{sha256}")
        if new is not None:
            conn.execute(sa.update(_raw).where(_raw.c.sha256 == sha256).values(content=new))
    keys = conn.execute(sa.select(_chunks.c.sha256, _chunks.c.seq)
                        .order_by(_chunks.c.sha256, _chunks.c.seq)).all()
    for sha256, seq in keys:
        where = sa.and_(_chunks.c.sha256 == sha256, _chunks.c.seq == seq)
        data = conn.execute(sa.select(_chunks.c.data).where(where)).scalar_one()
        new = change(bytes(data), f"raw_file_chunks:{sha256}:{seq}")
        if new is not None:
            conn.execute(sa.update(_chunks).where(where).values(data=new))
