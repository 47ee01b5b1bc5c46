"""terms: a keyed tag over each order's decided terms (A-14)

`order_controls.terms_tag`: HMAC under the store's key (label "order-terms") over the order's
canonical hash, its requirement and the policy hash, written when the policy decides (and
again after an edit). Dispatch recomputes it and refuses an order whose amount, payee,
account, date or requirement was changed behind the gateway's back. Decisions taken before
this revision have no tag and are not covered.

Revision ID: 0013_terms
Revises: 0010_sealed
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_terms"
down_revision = "0010_sealed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_controls", sa.Column("terms_tag", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_controls") as batch:
        batch.drop_column("terms_tag")
