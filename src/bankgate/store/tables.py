"""The schema: SQLAlchemy Core tables. Money is integer minor units plus a currency column.

Every mutable row has a `version` column; every change is a compare-and-set on it (or runs
under an explicit row lock), because isolation levels alone are not enough (RELIABILITY.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from bankgate.store.sealed import (  # issue 5: account numbers at rest
    BlindIndexed,
    Sealed,
    SealedBytes,
)

__all__ = [
    "accounts",
    "audit_log",
    "balances",
    "bank_messages",
    "batches",
    "idempotency_keys",
    "jobs",
    "metadata",
    "payment_orders",
    "raw_files",
    "serial_id",
    "statement_entries",
    "statements",
]

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _id(name: str = "id") -> Column[str]:
    return Column(name, String(40), primary_key=True)


def serial_id(name: str = "id") -> Column[int]:
    """An auto-increment 64-bit key (a plain INTEGER on SQLite, so it is the rowid)."""
    return Column(name, BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                  autoincrement=True)


accounts = Table(
    "accounts", metadata,
    _id(),
    Column("bank", String(32), nullable=False),
    Column("number", Sealed("accounts.number"), nullable=False),
    Column("number_bidx", BlindIndexed(), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("name", String(140), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "bank", "number_bidx", unique=True),  # a unique index: 0010_sealed
)

payment_orders = Table(
    "payment_orders", metadata,
    _id(),
    Column("instruction_id", String(35), nullable=False, unique=True),
    Column("flow", String(24), nullable=False),
    Column("debtor_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("payee_name", String(140), nullable=False),
    Column("payee_account", Sealed("payment_orders.payee_account"), nullable=False),
    Column("payee_account_bidx", BlindIndexed(), nullable=False),
    Column("payee_account_kind", String(10), nullable=False),
    Column("payee_bank", String(32)),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("execution_date", Date, nullable=False),
    Column("remittance", String(140), nullable=False),
    Column("status", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status_changed_at", UtcDateTime, nullable=False),
    Column("batch_id", String(40)),
    Column("reason_code", String(16)),
    Column("reason", String(255)),
    Column("source", String(80), nullable=False),
    Index(None, "status"),
    Index(None, "batch_id"),
)

batches = Table(
    "batches", metadata,
    _id(),
    Column("debtor_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("bank", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("execution_date", Date, nullable=False),
    Column("state", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("order_count", Integer, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("send_attempts", Integer, nullable=False, default=0),
    Column("last_sent_at", UtcDateTime),
    Column("bank_reference", String(64)),
    Column("note", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "state"),
)

bank_messages = Table(
    "bank_messages", metadata,
    serial_id(),
    Column("at", UtcDateTime, nullable=False),
    Column("bank", String(32), nullable=False),
    Column("kind", String(20), nullable=False),  # submit, status, callback
    Column("batch_id", String(40)),
    Column("raw", SealedBytes("bank_messages.raw"), nullable=False),  # holds payee accounts
    Index(None, "batch_id"),
)

audit_log = Table(
    "audit_log", metadata,
    serial_id("seq"),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject_kind", String(20), nullable=False),
    Column("subject_id", String(40), nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32)),
    Column("detail", Text, nullable=False),  # JSON
    Index(None, "subject_id"),
)

jobs = Table(
    "jobs", metadata,
    serial_id(),
    Column("kind", String(40), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("dedupe_key", String(120), unique=True),  # held only while queued
    Column("state", String(12), nullable=False),  # queued, running, done, dead
    Column("run_after", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("fence", Integer, nullable=False),  # bumped on every claim
    Column("lease_owner", String(80)),
    Column("lease_until", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "state", "run_after"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("scope", String(80), primary_key=True),  # the client (API key) the key belongs to
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

raw_files = Table(
    "raw_files", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("origin", String(120), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),  # b"" when chunked (tables_archive)
    Column("received_at", UtcDateTime, nullable=False),
    Column("chunks", Integer, nullable=False, server_default="0"),  # rows in raw_file_chunks
)

statements = Table(
    "statements", metadata,
    _id(),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("on_date", Date),
    Column("currency", String(3), nullable=False),
    Column("opening_minor", BigInteger),
    Column("closing_minor", BigInteger),
    Column("entry_count", Integer, nullable=False),
    Column("origin", String(255), nullable=False),
    Column("raw_sha256", String(64), ForeignKey("raw_files.sha256")),
    Column("issues", Text, nullable=False),  # JSON list of check findings
    Column("fetched_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "on_date", "origin"),
)

statement_entries = Table(
    "statement_entries", metadata,
    serial_id(),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("key_kind", String(20), nullable=False),
    Column("key_value", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(10), nullable=False),
    Column("booking_date", Date),
    Column("value_date", Date),
    Column("bank_reference", String(64)),
    Column("end_to_end_id", String(35)),
    Column("counterparty_name", String(140)),
    Column("counterparty_account", Sealed("statement_entries.counterparty_account")),
    Column("remittance", String(255)),
    Column("recon_keys", Text),  # domain.recon_keys.pack_keys of the remittance (0015)
    Column("statement_id", String(40)),
    Column("origin", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "key_kind", "key_value"),
    Index(None, "end_to_end_id"),
)

balances = Table(
    "balances", metadata,
    serial_id(),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("type", String(24), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("fetched_at", UtcDateTime, nullable=False),
    Index(None, "account_id", "fetched_at"),
)
from bankgate.store import tables_alerts as _tables_alerts  # noqa: E402, F401
from bankgate.store import tables_archive as _tables_archive  # noqa: E402, F401
from bankgate.store import tables_channels as _tables_channels  # noqa: E402, F401
from bankgate.store import tables_control as _tables_control  # noqa: E402, F401
from bankgate.store import tables_files as _tables_files  # noqa: E402, F401
from bankgate.store import tables_flows as _tables_flows  # noqa: E402, F401
from bankgate.store import tables_recon as _tables_recon  # noqa: E402, F401
from bankgate.store import tables_security as _tables_security  # noqa: E402, F401
