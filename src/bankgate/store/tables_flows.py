"""Tables of the flows that feed payments (issue 7): payee verification, employees, payroll,
claims with invoices and attachments, notifications.

Attachments and receipts are raw files (`raw_files`, stored once by SHA-256). An invoice is
unique by (code, number) across every claim of every employee: the store refuses a second
one, whatever the service checked before (two claims racing cannot both win).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bankgate.store.sealed import VERIFICATION, BlindIndexed, Sealed
from bankgate.store.tables import UtcDateTime, metadata, serial_id

__all__ = [
    "claim_attachments",
    "claim_lines",
    "claims",
    "employees",
    "invoices",
    "notifications",
    "order_routes",
    "payee_verifications",
    "payroll_lines",
    "payroll_runs",
    "receipts",
    "transfers",
]



payee_verifications = Table(
    "payee_verifications", metadata,
    serial_id(),
    # sha256 of account, name, bank, branch — stored as its keyed tag (a plain hash of a
    # low-entropy account number is inverted by trying them all): store/sealed.py
    Column("fingerprint", BlindIndexed(VERIFICATION), nullable=False),
    Column("account_masked", String(40), nullable=False),
    Column("name", String(140), nullable=False),
    Column("via_bank", String(32), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("reason", String(255)),
    Column("checks", Text, nullable=False),  # JSON list of {name, verdict, detail}
    Column("checked_at", UtcDateTime, nullable=False),
    Index(None, "fingerprint", "checked_at"),
)

employees = Table(
    "employees", metadata,
    Column("id", String(40), primary_key=True),  # the company's employee number (工号)
    Column("name", String(140), nullable=False),
    Column("department", String(60), nullable=False),
    Column("email", String(254)),
    Column("username", String(64)),  # the employee's own login, if they have one
    Column("account", Sealed("employees.account"), nullable=False),
    Column("account_kind", String(10), nullable=False),
    Column("bank", String(32), nullable=False),
    Column("branch_code", String(12)),
    Column("verified_at", UtcDateTime),  # the last passed verification of this account
    Column("verification_reason", String(255)),  # why the last one failed, if it did
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

payroll_runs = Table(
    "payroll_runs", metadata,
    Column("id", String(40), primary_key=True),
    Column("content_sha256", String(64), nullable=False, unique=True),
    Column("origin", String(255), nullable=False),
    Column("period", String(7), nullable=False),  # 2026-11
    Column("debtor_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

payroll_lines = Table(
    "payroll_lines", metadata,
    serial_id(),
    Column("run_id", String(40), ForeignKey("payroll_runs.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("row", String(40), nullable=False),  # where in the file: "row 7"
    Column("employee_id", String(40), nullable=False),
    Column("name", String(140), nullable=False),
    Column("account", Sealed("payroll_lines.account"), nullable=False),
    Column("account_kind", String(10), nullable=False),
    Column("bank", String(32), nullable=False),
    Column("branch_code", String(12)),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("remittance", String(140), nullable=False),
    Column("state", String(24), nullable=False),
    Column("reason", String(255)),
    Column("order_id", String(40)),
    Column("attempts", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("run_id", "line_no"),
    UniqueConstraint("run_id", "employee_id"),
    Index(None, "order_id"),
)

claims = Table(
    "claims", metadata,
    Column("id", String(40), primary_key=True),
    Column("employee_id", String(40), ForeignKey("employees.id"), nullable=False),
    Column("title", String(140), nullable=False),
    Column("department", String(60), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("state", String(24), nullable=False),
    Column("reason", String(255)),
    Column("order_id", String(40)),
    Column("approvals", Text, nullable=False),  # JSON: who approved, when, under which rule
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "state"),
    Index(None, "order_id"),
)

invoices = Table(
    "invoices", metadata,
    serial_id(),
    Column("code", String(12), nullable=False),  # 发票代码; "" for fully digital invoices
    Column("number", String(20), nullable=False),  # 发票号码
    Column("issued_on", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # before tax
    Column("tax_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("seller", String(140), nullable=False),
    Column("seller_tax_id", String(20)),
    Column("claim_id", String(40), ForeignKey("claims.id"), nullable=False),
    UniqueConstraint("code", "number"),
)

claim_lines = Table(
    "claim_lines", metadata,
    serial_id(),
    Column("claim_id", String(40), ForeignKey("claims.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("category", String(24), nullable=False),
    Column("cost_centre", String(40), nullable=False),
    Column("description", String(140), nullable=False),
    Column("expense_date", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("invoice_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("invoices.id")),
    UniqueConstraint("claim_id", "line_no"),
)

claim_attachments = Table(
    "claim_attachments", metadata,
    Column("claim_id", String(40), ForeignKey("claims.id"), primary_key=True),
    Column("sha256", String(64), ForeignKey("raw_files.sha256"), primary_key=True),
    Column("name", String(255), nullable=False),
)

notifications = Table(
    "notifications", metadata,
    serial_id(),
    Column("channel", String(10), nullable=False),  # email, webhook
    Column("recipient", String(254), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("event_id", String(80), nullable=False, unique=True),  # one message per event
    Column("state", String(10), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Index(None, "state"),
)

order_routes = Table(
    "order_routes", metadata,
    Column("order_id", String(40), ForeignKey("payment_orders.id"), primary_key=True),
    Column("rail", String(16), nullable=False),
    Column("rail_name", String(80), nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("explanation", String(400), nullable=False),
    Column("considered", Text, nullable=False),  # JSON list of lines
    Column("departs_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
)

transfers = Table(
    "transfers", metadata,
    Column("id", String(40), primary_key=True),
    Column("source_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("target_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(12), nullable=False),
    Column("reason", String(400), nullable=False),
    Column("rule_id", String(40)),
    Column("order_id", String(40)),
    Column("in_reference", String(64)),
    Column("failure", String(255)),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "state"),
)

receipts = Table(
    "receipts", metadata,
    Column("id", String(40), primary_key=True),
    Column("bank", String(32), nullable=False),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("receipt_no", String(40), nullable=False),
    Column("bank_reference", String(64), nullable=False),
    Column("instruction_id", String(35)),
    Column("order_id", String(40)),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("booked_on", Date, nullable=False),  # the bank's (Shanghai) booking date
    Column("verification_code", String(64), nullable=False),
    Column("counterparty_name", String(140)),
    Column("sha256", String(64), ForeignKey("raw_files.sha256"), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("verification", String(255), nullable=False),  # what the checks found
    Column("fetched_at", UtcDateTime, nullable=False),
    UniqueConstraint("bank", "receipt_no"),
    Index(None, "order_id"),
    Index(None, "booked_on"),
    Index(None, "instruction_id"),
)
