"""sealed: full account numbers encrypted at rest, looked up through keyed blind indexes

Issue 5 (INV-7). Every column that holds a full account number becomes an AES-256-GCM
envelope bound to "table.column" (store/sealed.py); where the code looks rows up by number or
keeps numbers unique, a blind-index column (HMAC-SHA256 tag under a key derived from the
master key) takes over: accounts unique (bank, number) → unique index (bank, number_bidx);
the policy's payee-account index → payee_account_bidx. Payee verification fingerprints (a
plain SHA-256 over, among others, the account number: inverted by trying every number) become
keyed tags too.

Rows written before this revision are sealed in place, a batch of primary keys at a time,
under the store's master key (the engine's, resolved as everywhere: crypto/master_key.py).
A value that already carries the envelope prefix is left alone, so a re-run changes nothing.

SQLite cannot drop a UNIQUE table constraint or make a column NOT NULL without rebuilding the
table, and rebuilding `accounts` (which every account-bound table references) inside the
migration's transaction would trip the foreign keys. So on SQLite the old UNIQUE(bank, number)
stays (vacuous: envelopes are randomised and never collide) and the bidx columns stay
nullable at the schema level (the repositories always write them); PostgreSQL and MariaDB get
the full swap. SQLite does not enforce VARCHAR lengths, so only the others are widened.

Revision ID: 0010_sealed
Revises: 0002_files, 0004_security, 0005_recon, 0006_flows, 0007_channels, 0009_archive
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from bankgate.store.sealed import VERIFICATION, StoreCipher, cipher_of

revision = "0010_sealed"
down_revision = ("0002_files", "0004_security", "0005_recon", "0006_flows", "0007_channels",
                 "0009_archive")
branch_labels = None
depends_on = None

_PREFIX = "bgs1."  # crypto/sealed.py's envelope prefix (text), and its raw-bytes form
_RAW_PREFIX = b"BGS\x01"
_BATCH = 2000
_SEALED = 160  # store/sealed.SEALED_LENGTH at this revision

#: (table, primary key, column, nullable, blind-index column or None)
_COLUMNS: tuple[tuple[str, str, str, bool, str | None], ...] = (
    ("accounts", "id", "number", False, "number_bidx"),
    ("payment_orders", "id", "payee_account", False, "payee_account_bidx"),
    ("statement_entries", "id", "counterparty_account", True, None),
    ("recon_items", "id", "counterparty_account", True, None),
    ("employees", "id", "account", False, None),
    ("payroll_lines", "id", "account", False, None),
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    cipher = cipher_of(op.get_bind())
    cipher.require()  # no key, no change (MariaDB's DDL does not roll back)
    for table, _, column, nullable, bidx in _COLUMNS:
        if not _sqlite():
            op.alter_column(table, column, type_=sa.String(_SEALED),
                            existing_type=sa.String(34), existing_nullable=nullable)
        if bidx:
            op.add_column(table, sa.Column(bidx, sa.String(32), nullable=True))
    for table, key, column, _, bidx in _COLUMNS:
        context = f"{table}.{column}"

        def seal(value: str, context: str = context) -> str:
            return value if value.startswith(_PREFIX) else cipher.seal(value, context)

        def tag(value: str, context: str = context) -> str:
            plain = cipher.open(value, context) if value.startswith(_PREFIX) else value
            return cipher.tag(plain)

        _rewrite(table, key, column, bidx, seal, tag)
    _retag_verifications(cipher)
    _seal_bank_messages(cipher)
    if not _sqlite():
        op.alter_column("accounts", "number_bidx", existing_type=sa.String(32), nullable=False)
        op.alter_column("payment_orders", "payee_account_bidx", existing_type=sa.String(32),
                        nullable=False)
        op.drop_constraint("uq_accounts_bank_number", "accounts", type_="unique")
    op.create_index("ix_accounts_bank_number_bidx", "accounts", ["bank", "number_bidx"],
                    unique=True)
    op.drop_index("ix_payment_orders_payee_account", table_name="payment_orders")
    op.create_index("ix_payment_orders_payee_account_bidx", "payment_orders",
                    ["payee_account_bidx"])


def _rewrite(table: str, key: str, column: str, bidx: str | None,
             seal: Callable[[str], str], tag: Callable[[str], str]) -> None:
    """Seal `column` (and fill `bidx` from the plain value) in batches of primary keys."""
    conn = op.get_bind()
    t = sa.table(table, sa.column(key), sa.column(column, sa.String),
                 *([sa.column(bidx, sa.String)] if bidx else []))
    pk, col = t.c[key], t.c[column]
    last: object = None
    while True:
        query = sa.select(pk, col).order_by(pk).limit(_BATCH)
        if last is not None:
            query = query.where(pk > last)
        rows: Sequence[sa.Row[tuple[object, str | None]]] = conn.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        changes = [_change(row[0], row[1], seal, tag if bidx else None) for row in rows
                   if row[1] is not None]
        if changes:
            values = {column: sa.bindparam("v_sealed")}
            if bidx:
                values[bidx] = sa.bindparam("v_tag")
            conn.execute(sa.update(t).where(pk == sa.bindparam("v_key")).values(values),
                         changes)


def _retag_verifications(cipher: StoreCipher) -> None:
    """Payee verification fingerprints (plain SHA-256 hex, 64 digits, over the account number
    among others) become their keyed tags (32 digits)."""
    t = sa.table("payee_verifications", sa.column("id"), sa.column("fingerprint", sa.String))
    rows = op.get_bind().execute(sa.select(t.c.id, t.c.fingerprint)
                                 .where(sa.func.length(t.c.fingerprint) == 64)).all()
    for start in range(0, len(rows), _BATCH):
        op.get_bind().execute(
            sa.update(t).where(t.c.id == sa.bindparam("v_key"))
            .values(fingerprint=sa.bindparam("v_tag")),
            [{"v_key": key, "v_tag": cipher.tag(fp, VERIFICATION)}
             for key, fp in rows[start:start + _BATCH]])


def _seal_bank_messages(cipher: StoreCipher) -> None:
    """Raw bank messages (a submitted batch names every payee account) become raw-bytes
    envelopes; on MariaDB the column grows from BLOB (64 KiB) to LONGBLOB first."""
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        op.alter_column("bank_messages", "raw", type_=mysql.LONGBLOB(),
                        existing_type=sa.LargeBinary(), existing_nullable=False)
    conn = op.get_bind()
    t = sa.table("bank_messages", sa.column("id"), sa.column("raw", sa.LargeBinary))
    last = None
    while True:
        query = sa.select(t.c.id, t.c.raw).order_by(t.c.id).limit(100)  # messages can be large
        rows = conn.execute(query if last is None else query.where(t.c.id > last)).all()
        if not rows:
            return
        last = rows[-1][0]
        changes = [{"v_key": key, "v_raw": cipher.box.seal_bytes(bytes(raw), "bank_messages.raw")}
                   for key, raw in rows if bytes(raw[:4]) != _RAW_PREFIX]
        if changes:
            conn.execute(sa.update(t).where(t.c.id == sa.bindparam("v_key"))
                         .values(raw=sa.bindparam("v_raw")), changes)


def _change(key: object, value: str, seal: Callable[[str], str],
            tag: Callable[[str], str] | None) -> dict[str, object]:
    change: dict[str, object] = {"v_key": key, "v_sealed": seal(value)}
    if tag is not None:
        change["v_tag"] = tag(value)
    return change


def downgrade() -> None:
    """Open every envelope back into plain text (needs the same master key) and restore the
    constraints on the plain numbers. Verification tags cannot be turned back into hashes:
    those payees are verified afresh on their next payment."""
    cipher = cipher_of(op.get_bind())
    cipher.require()
    op.drop_index("ix_payment_orders_payee_account_bidx", table_name="payment_orders")
    op.create_index("ix_payment_orders_payee_account", "payment_orders", ["payee_account"])
    op.drop_index("ix_accounts_bank_number_bidx", table_name="accounts")
    for table, key, column, _, _bidx in _COLUMNS:
        context = f"{table}.{column}"

        def unseal(value: str, context: str = context) -> str:
            return cipher.open(value, context) if value.startswith(_PREFIX) else value

        _rewrite(table, key, column, None, unseal, unseal)
    _open_bank_messages(cipher)
    sqlite = _sqlite()
    if not sqlite:
        op.create_unique_constraint("uq_accounts_bank_number", "accounts", ["bank", "number"])
    for table, _, column, nullable, bidx in _COLUMNS:
        if bidx:  # plain ALTER (SQLite ≥ 3.35 too): no table rebuild under the foreign keys
            op.execute(f"ALTER TABLE {table} DROP COLUMN {bidx}")
        if not sqlite:
            op.alter_column(table, column, type_=sa.String(34),
                            existing_type=sa.String(_SEALED), existing_nullable=nullable)


def _open_bank_messages(cipher: StoreCipher) -> None:
    conn = op.get_bind()
    t = sa.table("bank_messages", sa.column("id"), sa.column("raw", sa.LargeBinary))
    for key, raw in conn.execute(sa.select(t.c.id, t.c.raw)).all():
        if bytes(raw[:4]) == _RAW_PREFIX:
            conn.execute(sa.update(t).where(t.c.id == key).values(
                raw=cipher.box.open_bytes(bytes(raw), "bank_messages.raw")))
