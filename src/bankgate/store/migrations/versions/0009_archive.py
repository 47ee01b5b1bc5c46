"""archive: raw files over 60 KiB kept as 1 MiB chunks (constant memory, L-06)

Adds `raw_files.chunks` and the `raw_file_chunks` table, then moves the bytes of every
archived file larger than 60 KiB into chunks (read with SUBSTR a chunk at a time, so the
migration itself stays in bounded memory) and empties its `content`.

Revision ID: 0009_archive
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009_archive"
down_revision = "0001"
branch_labels = None
depends_on = None

CHUNK = 1 << 20  # the values of store/tables_archive.py at this revision
INLINE_MAX = 60 * 1024

_raw = sa.table("raw_files", sa.column("sha256", sa.String), sa.column("size", sa.BigInteger),
                sa.column("content", sa.LargeBinary), sa.column("chunks", sa.Integer))
_chunks = sa.table("raw_file_chunks", sa.column("sha256", sa.String),
                   sa.column("seq", sa.Integer), sa.column("data", sa.LargeBinary))


def upgrade() -> None:
    op.add_column("raw_files", sa.Column("chunks", sa.Integer(), nullable=False,
                                         server_default="0"))
    op.create_table(
        "raw_file_chunks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb"),
                  nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["raw_files.sha256"],
                                name=op.f("fk_raw_file_chunks_sha256_raw_files")),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_raw_file_chunks")),
    )
    conn = op.get_bind()
    large = conn.execute(sa.select(_raw.c.sha256, _raw.c.size)
                         .where(_raw.c.size > INLINE_MAX)).all()
    for sha256, size in large:
        _move_into_chunks(conn, sha256, size)


def _move_into_chunks(conn: sa.Connection, sha256: str, size: int) -> None:
    count = -(-size // CHUNK)
    for seq in range(count):
        piece = conn.execute(sa.select(sa.func.substr(_raw.c.content, seq * CHUNK + 1, CHUNK))
                             .where(_raw.c.sha256 == sha256)).scalar_one()
        conn.execute(sa.insert(_chunks).values(sha256=sha256, seq=seq, data=bytes(piece)))
    conn.execute(sa.update(_raw).where(_raw.c.sha256 == sha256)
                 .values(content=b"", chunks=count))


def downgrade() -> None:
    conn = op.get_bind()
    for sha256 in conn.execute(sa.select(_raw.c.sha256).where(_raw.c.chunks > 0)).scalars().all():
        pieces = conn.execute(sa.select(_chunks.c.data).where(_chunks.c.sha256 == sha256)
                              .order_by(_chunks.c.seq)).scalars()
        conn.execute(sa.update(_raw).where(_raw.c.sha256 == sha256)
                     .values(content=b"".join(bytes(p) for p in pieces)))
    op.drop_table("raw_file_chunks")
    with op.batch_alter_table("raw_files") as batch:
        batch.drop_column("chunks")
