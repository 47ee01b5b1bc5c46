"""Tables of statement sync, reconciliation (对账), the ledger and voucher export (issue 6).

No statement entry is matched twice: `recon_line_locks` holds one row per entry in a live
match (the entry id is its primary key). An open item's `open_minor` only shrinks by compare-
and-set, so two matches cannot settle the same amount. Each match has one voucher, and at
most one reversal voucher (红字冲销, on unmatch); an export is recorded on the voucher.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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

from bankgate.store.sealed import Sealed
from bankgate.store.tables import UtcDateTime, metadata, serial_id

__all__ = ["expected_imports", "ledger_postings", "recon_allocations", "recon_items",
           "recon_line_locks", "recon_matches", "sync_exceptions", "voucher_counters",
           "vouchers"]



sync_exceptions = Table(
    "sync_exceptions", metadata,
    serial_id(),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("on_date", Date, nullable=False),
    Column("kind", String(20), nullable=False),  # gap, fetch_failed, continuity, balance, ...
    Column("message", String(255), nullable=False),
    Column("found_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    UniqueConstraint("account_id", "on_date", "kind"),
)

recon_items = Table(
    "recon_items", metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("source_id", String(64), nullable=False),  # order id, receipt key, entry id, ...
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("open_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expected_date", Date, nullable=False),
    Column("end_to_end_id", String(35)),
    Column("batch_id", String(40)),
    Column("counterparty_name", String(140)),
    Column("counterparty_account", Sealed("recon_items.counterparty_account")),
    Column("refs", Text, nullable=False),  # JSON list of invoice / order numbers
    Column("recon_keys", Text),  # domain.recon_keys.pack_item_keys of refs (0015)
    Column("flow", String(24)),  # the payment's flow, for the ledger's counter account
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("kind", "source_id"),
    Index(None, "account_id", "open_minor"),
)

recon_matches = Table(
    "recon_matches", metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("state", String(12), nullable=False),  # confirmed, suggested, undone, dismissed
    Column("rule", String(20), nullable=False),
    Column("confidence", Integer, nullable=False),
    Column("explanation", String(255), nullable=False),
    Column("line_ids", Text, nullable=False),  # JSON list of statement entry ids
    Column("allocations", Text, nullable=False),  # JSON [[item id, amount minor], ...]
    Column("difference_minor", BigInteger, nullable=False),
    Column("rank", Integer, nullable=False),  # 1 for a confirmed match; 1.. for suggestions
    Column("decided_by", String(80), nullable=False),  # "system:recon" or "user:..."
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Index(None, "account_id", "state"),
)

recon_line_locks = Table(
    "recon_line_locks", metadata,
    Column("entry_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("statement_entries.id"), primary_key=True, autoincrement=False),
    Column("match_id", String(40), ForeignKey("recon_matches.id"), nullable=False),
)

recon_allocations = Table(
    "recon_allocations", metadata,
    Column("match_id", String(40), ForeignKey("recon_matches.id"), primary_key=True),
    Column("item_id", String(40), ForeignKey("recon_items.id"), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
)

vouchers = Table(
    "vouchers", metadata,
    Column("id", String(40), primary_key=True),
    Column("number", String(24), nullable=False, unique=True),  # 记-20260101-000001
    Column("match_id", String(40), ForeignKey("recon_matches.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # match, or reversal (红字冲销, on unmatch)
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("on_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("summary", String(140), nullable=False),  # 摘要
    Column("created_at", UtcDateTime, nullable=False),
    Column("exported_at", UtcDateTime),
    Column("export_count", Integer, nullable=False),
    UniqueConstraint("match_id", "kind"),
)

voucher_counters = Table(
    # The last voucher number given out per day: concurrent reconcile runs take numbers by
    # updating this row (a row lock), never by reading MAX(number) (which two runs can share).
    "voucher_counters", metadata,
    Column("on_date", Date, primary_key=True),
    Column("last_number", Integer, nullable=False),
)

ledger_postings = Table(
    "ledger_postings", metadata,
    serial_id(),
    Column("voucher_id", String(40), ForeignKey("vouchers.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("ledger_account", String(40), nullable=False),  # 1002.icbc-cny, 2202, ...
    Column("amount_minor", BigInteger, nullable=False),  # debit +, credit −
    Column("currency", String(3), nullable=False),
    Column("memo", String(140), nullable=False),
    UniqueConstraint("voucher_id", "line_no"),
    Index(None, "ledger_account"),
)

expected_imports = Table(
    "expected_imports", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
)
