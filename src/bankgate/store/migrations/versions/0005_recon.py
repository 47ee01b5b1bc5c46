"""statement sync exceptions, reconciliation, ledger postings and vouchers (issue 6)

Revision ID: 0005_recon
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_recon"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expected_imports",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_expected_imports")),
    )
    op.create_table(
        "recon_items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("open_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=True),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("counterparty_name", sa.String(length=140), nullable=True),
        sa.Column("counterparty_account", sa.String(length=34), nullable=True),
        sa.Column("refs", sa.Text(), nullable=False),
        sa.Column("flow", sa.String(length=24), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_recon_items_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_items")),
        sa.UniqueConstraint("kind", "source_id", name=op.f("uq_recon_items_kind_source_id")),
    )
    op.create_index(
        op.f("ix_recon_items_account_id_open_minor"),
        "recon_items",
        ["account_id", "open_minor"],
        unique=False,
    )
    op.create_table(
        "recon_matches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.String(length=255), nullable=False),
        sa.Column("line_ids", sa.Text(), nullable=False),
        sa.Column("allocations", sa.Text(), nullable=False),
        sa.Column("difference_minor", sa.BigInteger(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_recon_matches_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_matches")),
    )
    op.create_index(
        op.f("ix_recon_matches_account_id_state"),
        "recon_matches",
        ["account_id", "state"],
        unique=False,
    )
    op.create_table(
        "sync_exceptions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("message", sa.String(length=255), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sync_exceptions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_exceptions")),
        sa.UniqueConstraint(
            "account_id", "on_date", "kind", name=op.f("uq_sync_exceptions_account_id_on_date_kind")
        ),
    )
    op.create_table(
        "recon_allocations",
        sa.Column("match_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["recon_items.id"], name=op.f("fk_recon_allocations_item_id_recon_items")
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["recon_matches.id"],
            name=op.f("fk_recon_allocations_match_id_recon_matches"),
        ),
        sa.PrimaryKeyConstraint("match_id", "item_id", name=op.f("pk_recon_allocations")),
    )
    op.create_table(
        "recon_line_locks",
        sa.Column(
            "entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("match_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["statement_entries.id"],
            name=op.f("fk_recon_line_locks_entry_id_statement_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["recon_matches.id"],
            name=op.f("fk_recon_line_locks_match_id_recon_matches"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_recon_line_locks")),
    )
    op.create_table(
        "vouchers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("match_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("summary", sa.String(length=140), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.Column("export_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_vouchers_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["recon_matches.id"], name=op.f("fk_vouchers_match_id_recon_matches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("match_id", "kind", name=op.f("uq_vouchers_match_id_kind")),
        sa.UniqueConstraint("number", name=op.f("uq_vouchers_number")),
    )
    op.create_table(
        "ledger_postings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("voucher_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("ledger_account", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("memo", sa.String(length=140), nullable=False),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["vouchers.id"], name=op.f("fk_ledger_postings_voucher_id_vouchers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
        sa.UniqueConstraint(
            "voucher_id", "line_no", name=op.f("uq_ledger_postings_voucher_id_line_no")
        ),
    )
    op.create_index(
        op.f("ix_ledger_postings_ledger_account"),
        "ledger_postings",
        ["ledger_account"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_postings_ledger_account"), table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_table("vouchers")
    op.drop_table("recon_line_locks")
    op.drop_table("recon_allocations")
    op.drop_table("sync_exceptions")
    op.drop_index(op.f("ix_recon_matches_account_id_state"), table_name="recon_matches")
    op.drop_table("recon_matches")
    op.drop_index(op.f("ix_recon_items_account_id_open_minor"), table_name="recon_items")
    op.drop_table("recon_items")
    op.drop_table("expected_imports")
