"""Tables of issue 5 (security): token PIN counters, the audit chain head and hash columns.

`audit_log` (tables.py) gains `prev_hash` and `hash` here, so tables.py keeps its shape: each
row's hash links it to the one before (audit/chain.py). `audit_chain_head` is one row (id 1)
holding the last sequence number and hash; appends lock it FOR UPDATE so that concurrent
writers on PostgreSQL form one chain (docs/adr/0004-audit-chain.md).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from bankgate.store.tables import UtcDateTime, audit_log, metadata

__all__ = ["audit_chain_head", "token_pin_counters"]

audit_log.append_column(Column("prev_hash", String(64)))
audit_log.append_column(Column("hash", String(64)))

audit_chain_head = Table(
    "audit_chain_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("algorithm", String(8), nullable=False),  # sha256 or sm3
    Column("updated_at", UtcDateTime, nullable=False),
)

token_pin_counters = Table(
    "token_pin_counters", metadata,
    Column("token_id", String(120), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
