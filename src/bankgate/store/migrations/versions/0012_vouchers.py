"""vouchers: a per-day counter row hands out voucher numbers

Two reconcile runs committing on the same day read the same MAX(number) and the second one
failed on the unique number. `voucher_counters` holds the last number per day; taking numbers
updates that row (a row lock), so concurrent runs queue instead. Seeded from the vouchers
already written.

Revision ID: 0012_vouchers
Revises: 0005_recon
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_vouchers"
down_revision = "0005_recon"
branch_labels = None
depends_on = None

_vouchers = sa.table("vouchers", sa.column("number", sa.String), sa.column("on_date", sa.Date))
_counters = sa.table("voucher_counters", sa.column("on_date", sa.Date),
                     sa.column("last_number", sa.Integer))


def upgrade() -> None:
    op.create_table(
        "voucher_counters",
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("on_date", name=op.f("pk_voucher_counters")),
    )
    conn = op.get_bind()
    highest = conn.execute(sa.select(_vouchers.c.on_date, sa.func.max(_vouchers.c.number))
                           .group_by(_vouchers.c.on_date)).all()
    if highest:
        conn.execute(sa.insert(_counters), [
            {"on_date": on, "last_number": int(number.rsplit("-", 1)[1])}
            for on, number in highest])


def downgrade() -> None:
    op.drop_table("voucher_counters")
