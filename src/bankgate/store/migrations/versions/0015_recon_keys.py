"""recon keys: the reference keys of entries and open items, computed when they are stored

`statement_entries.recon_keys`: the invoice / order-number keys of the entry's remittance
(`domain.recon_keys.remittance_keys`, joined by spaces); `recon_items.recon_keys`: the keys of
each of the item's references (`item_keys`, references separated by ";"). Written by the store
on insert, so the matcher no longer extracts them from text at every run. Rows stored before
this revision keep NULL and the matcher extracts their keys itself.

Revision ID: 0015_recon_keys
Revises: 0013_terms
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_recon_keys"
down_revision = "0013_terms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("statement_entries", sa.Column("recon_keys", sa.Text(), nullable=True))
    op.add_column("recon_items", sa.Column("recon_keys", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("recon_items", "statement_entries"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("recon_keys")
