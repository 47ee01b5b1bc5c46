"""Tables for people and permissions (issue 5): users, credentials, API clients, sessions,
login and factor failure counters, step-ups, approvals, decisions per order, policy versions.

No secret is stored in the clear: passwords are argon2 hashes, API keys and session tokens
SHA-256 hashes of high-entropy secrets, TOTP secrets sealed, own accounts fingerprints.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bankgate.store.tables import UtcDateTime, metadata, payment_orders

__all__ = ["api_clients", "approvals", "credentials", "login_failures", "order_controls",
           "policy_versions", "sessions", "step_ups", "users"]

users = Table(
    "users", metadata,
    Column("id", String(40), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(140), nullable=False),
    Column("roles", String(200), nullable=False),  # comma-separated Role values
    Column("password_hash", String(200), nullable=False),
    Column("own_accounts", Text, nullable=False),  # JSON list of keyed account tags (0014)
    Column("active", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_clients = Table(
    "api_clients", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", String(400), nullable=False),
    Column("active", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

login_failures = Table(
    "login_failures", metadata,
    Column("key", String(160), primary_key=True),  # "user:alice", "ip:127.0.0.1"
    Column("failures", Integer, nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
)

credentials = Table(
    "credentials", metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # totp, signing_key
    Column("secret", LargeBinary),  # sealed TOTP secret
    Column("public_key", Text),  # PEM of a signing key (token or software)
    Column("algorithm", String(24)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("confirmed_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("failures", Integer, nullable=False),
    Column("locked_at", UtcDateTime),
    Column("last_step", BigInteger),
    Column("version", Integer, nullable=False),
    Index(None, "user_id"),
)

step_ups = Table(
    "step_ups", metadata,
    Column("id", String(40), primary_key=True),
    Column("credential_id", String(40), ForeignKey("credentials.id"), nullable=False),
    Column("time_step", BigInteger, nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("act", String(16), nullable=False),
    Column("orders_hash", String(64), nullable=False),
    Column("order_count", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    UniqueConstraint("credential_id", "time_step"),  # K-04, A-10: a code counts once
)

approvals = Table(
    "approvals", metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), ForeignKey("payment_orders.id"), nullable=False),
    Column("act", String(16), nullable=False),
    Column("order_hash", String(64), nullable=False),
    Column("user_id", String(80), nullable=False),
    Column("role", String(24), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("step_up_id", String(40), ForeignKey("step_ups.id")),
    Column("key_id", String(80)),
    Column("signature", LargeBinary),
    Column("voided_at", UtcDateTime),
    Index(None, "order_id"),
)

order_controls = Table(
    "order_controls", metadata,
    Column("order_id", String(40), ForeignKey("payment_orders.id"), primary_key=True),
    Column("maker", String(80), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("policy_hash", String(64), nullable=False),
    Column("rule", String(120), nullable=False),
    Column("requirement", Text, nullable=False),  # JSON
    Column("reasons", Text, nullable=False),  # JSON list
    Column("edited", Integer, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    # keyed tag (store cipher, label "order-terms") over the order's canonical hash, the
    # requirement and the policy: dispatch refuses an order whose tag no longer matches
    Column("terms_tag", String(32)),
)

policy_versions = Table(
    "policy_versions", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(80), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False),  # proposed, active, superseded, rejected
    Column("proposed_by", String(80), nullable=False),
    Column("proposed_at", UtcDateTime, nullable=False),
    Column("decided_by", String(80)),
    Column("decided_at", UtcDateTime),
    Index(None, "state"),
)

# The policy's facts look orders up by payee account, payee name and execution day.
Index("ix_payment_orders_payee_account_bidx", payment_orders.c.payee_account_bidx)
Index("ix_payment_orders_payee_name", payment_orders.c.payee_name)
Index("ix_payment_orders_execution_date_debtor_id", payment_orders.c.execution_date,
      payment_orders.c.debtor_id)
