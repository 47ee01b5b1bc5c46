"""file channel: file_transfers

Revision ID: 0002_files
Revises: 0001
Create Date: 2026-12-01 07:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_files"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_transfers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("bank", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("remote_mtime", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["raw_files.sha256"], name=op.f("fk_file_transfers_sha256_raw_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_transfers")),
    )
    op.create_index(
        op.f("ix_file_transfers_bank_direction_name_sha256"),
        "file_transfers",
        ["bank", "direction", "name", "sha256"],
        unique=True,
    )
    op.create_index(
        op.f("ix_file_transfers_bank_direction_sha256"),
        "file_transfers",
        ["bank", "direction", "sha256"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_file_transfers_bank_direction_sha256"), table_name="file_transfers")
    op.drop_index(op.f("ix_file_transfers_bank_direction_name_sha256"),
                  table_name="file_transfers")
    op.drop_table("file_transfers")
