"""flows: verification, employees, payroll, claims, notifications, routes, transfers, receipts

Revision ID: 0006_flows
Revises: 0003_control
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_flows"
down_revision = "0003_control"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "employees",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=140), nullable=False),
        sa.Column("department", sa.String(length=60), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=34), nullable=False),
        sa.Column("account_kind", sa.String(length=10), nullable=False),
        sa.Column("bank", sa.String(length=32), nullable=False),
        sa.Column("branch_code", sa.String(length=12), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("verification_reason", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employees")),
    )
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("event_id", name=op.f("uq_notifications_event_id")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_state"), ["state"], unique=False)

    op.create_table(
        "payee_verifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("account_masked", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=140), nullable=False),
        sa.Column("via_bank", sa.String(length=32), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("checks", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payee_verifications")),
    )
    with op.batch_alter_table("payee_verifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payee_verifications_fingerprint_checked_at"),
            ["fingerprint", "checked_at"],
            unique=False,
        )

    op.create_table(
        "claims",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("employee_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=140), nullable=False),
        sa.Column("department", sa.String(length=60), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("approvals", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_claims_employee_id_employees")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claims_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claims_state"), ["state"], unique=False)

    op.create_table(
        "payroll_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("debtor_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["accounts.id"], name=op.f("fk_payroll_runs_debtor_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_runs")),
        sa.UniqueConstraint("content_sha256", name=op.f("uq_payroll_runs_content_sha256")),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("bank", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("receipt_no", sa.String(length=40), nullable=False),
        sa.Column("bank_reference", sa.String(length=64), nullable=False),
        sa.Column("instruction_id", sa.String(length=35), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("booked_at", sa.DateTime(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("verification_code", sa.String(length=64), nullable=False),
        sa.Column("counterparty_name", sa.String(length=140), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verification", sa.String(length=255), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_receipts_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["raw_files.sha256"], name=op.f("fk_receipts_sha256_raw_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("bank", "receipt_no", name=op.f("uq_receipts_bank_receipt_no")),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipts_booked_on"), ["booked_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_receipts_instruction_id"), ["instruction_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_receipts_order_id"), ["order_id"], unique=False)

    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("in_reference", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["accounts.id"], name=op.f("fk_transfers_source_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["accounts.id"], name=op.f("fk_transfers_target_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfers_state"), ["state"], unique=False)

    op.create_table(
        "claim_attachments",
        sa.Column("claim_id", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_attachments_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["raw_files.sha256"], name=op.f("fk_claim_attachments_sha256_raw_files")
        ),
        sa.PrimaryKeyConstraint("claim_id", "sha256", name=op.f("pk_claim_attachments")),
    )
    op.create_table(
        "invoices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("seller", sa.String(length=140), nullable=False),
        sa.Column("seller_tax_id", sa.String(length=20), nullable=True),
        sa.Column("claim_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_invoices_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("code", "number", name=op.f("uq_invoices_code_number")),
    )
    op.create_table(
        "order_routes",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("rail", sa.String(length=16), nullable=False),
        sa.Column("rail_name", sa.String(length=80), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("explanation", sa.String(length=400), nullable=False),
        sa.Column("considered", sa.Text(), nullable=False),
        sa.Column("departs_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["payment_orders.id"],
            name=op.f("fk_order_routes_order_id_payment_orders"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_routes")),
    )
    op.create_table(
        "payroll_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("row", sa.String(length=40), nullable=False),
        sa.Column("employee_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=140), nullable=False),
        sa.Column("account", sa.String(length=34), nullable=False),
        sa.Column("account_kind", sa.String(length=10), nullable=False),
        sa.Column("bank", sa.String(length=32), nullable=False),
        sa.Column("branch_code", sa.String(length=12), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payroll_runs.id"], name=op.f("fk_payroll_lines_run_id_payroll_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_lines")),
        sa.UniqueConstraint(
            "run_id", "employee_id", name=op.f("uq_payroll_lines_run_id_employee_id")
        ),
        sa.UniqueConstraint("run_id", "line_no", name=op.f("uq_payroll_lines_run_id_line_no")),
    )
    with op.batch_alter_table("payroll_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payroll_lines_order_id"), ["order_id"], unique=False)

    op.create_table(
        "claim_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("claim_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("cost_centre", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=140), nullable=False),
        sa.Column("expense_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_lines_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_claim_lines_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_lines")),
        sa.UniqueConstraint("claim_id", "line_no", name=op.f("uq_claim_lines_claim_id_line_no")),
    )


def downgrade() -> None:
    op.drop_table("claim_lines")
    with op.batch_alter_table("payroll_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payroll_lines_order_id"))

    op.drop_table("payroll_lines")
    op.drop_table("order_routes")
    op.drop_table("invoices")
    op.drop_table("claim_attachments")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfers_state"))

    op.drop_table("transfers")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipts_order_id"))
        batch_op.drop_index(batch_op.f("ix_receipts_instruction_id"))
        batch_op.drop_index(batch_op.f("ix_receipts_booked_on"))

    op.drop_table("receipts")
    op.drop_table("payroll_runs")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_state"))
        batch_op.drop_index(batch_op.f("ix_claims_order_id"))

    op.drop_table("claims")
    with op.batch_alter_table("payee_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payee_verifications_fingerprint_checked_at"))

    op.drop_table("payee_verifications")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_state"))

    op.drop_table("notifications")
    op.drop_table("employees")
