"""Migration 0010_sealed: rows written in plain text before it are sealed in place, their blind
indexes built and the unique constraint moved onto them (issue 5, INV-7), on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from bankgate.store import UnitOfWork, current_revision, make_engine, migrate
from bankgate.store.sealed import cipher_of
from tests.conftest import MYSQL_URL, PG_URL, _reachable

#: This migration alone (later ones build on it; these tests are about this step).
SEALED = "0010_sealed"
PREVIOUS_HEADS = ("0002_files", "0004_security", "0005_recon", "0006_flows", "0007_channels",
                  "0009_archive")
OURS, PAYEE, OTHER, EMPLOYEE, WORKER = ("6222020200001000001", "6222020200009000001",
                                        "6217000011112222333", "6228480010000012345",
                                        "6228480010000067890")
FINGERPRINT = hashlib.sha256(f"domestic|{PAYEE}|某某贸易".encode()).hexdigest()
AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).replace(tzinfo=None)


def _fresh(kind: str, tmp_path: Path) -> tuple[Engine, Callable[[], None]]:
    """An empty store of `kind` (its own schema or database) and a function that drops it."""
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/old.db"), lambda: None
    base = PG_URL if kind == "postgresql" else MYSQL_URL
    why = _reachable(base)
    if why:
        pytest.skip(f"{kind} not reachable ({why})")
    name = f"bgseal_{secrets.token_hex(4)}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {name}" if kind == "postgresql"
                          else f"create database {name} character set utf8mb4"))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {name} cascade" if kind == "postgresql"
                              else f"drop database {name}"))
        admin.dispose()

    url = (f"{base}?options=-csearch_path%3D{name}" if kind == "postgresql"
           else base.rsplit("/", 1)[0] + f"/{name}")
    return make_engine(url), drop


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store at the heads before 0010_sealed, with plain-text account numbers in it."""
    engine, drop = _fresh(request.param, tmp_path)
    try:
        for head in PREVIOUS_HEADS:
            migrate(engine, head)
        with engine.begin() as conn:
            _plain_rows(conn)
        yield engine
    finally:
        engine.dispose()
        drop()


def _plain_rows(conn) -> None:  # type: ignore[no-untyped-def]
    def insert(table: str, **values: object) -> None:
        names = ", ".join(values)
        conn.execute(text(f"insert into {table} ({names}) values "
                          f"({', '.join(':' + n for n in values)})"), values)

    for i, number in enumerate((OURS, OTHER)):
        insert("accounts", id=f"acc-{i}", bank="icbc", number=number, kind="domestic",
               currency="CNY", name="示例科技", purpose="operating", created_at=AT)
    insert("payment_orders", id="po-1", instruction_id="INSTR-1", flow="supplier",
           debtor_id="acc-0", payee_name="某某贸易", payee_account=PAYEE,
           payee_account_kind="domestic", payee_bank="icbc", amount_minor=10000,
           currency="CNY", execution_date=date(2026, 11, 30), remittance="INV-1",
           status="settled", version=1, created_at=AT, status_changed_at=AT, source="test")
    insert("statement_entries", account_id="acc-0", key_kind="bank_reference",
           key_value="REF-1", amount_minor=-10000, currency="CNY", status="booked",
           counterparty_account=PAYEE, origin="test", created_at=AT)
    insert("statement_entries", account_id="acc-0", key_kind="bank_reference",
           key_value="REF-2", amount_minor=500, currency="CNY", status="booked",
           counterparty_account=None, origin="test", created_at=AT)
    insert("recon_items", id="ri-1", kind="payment", source_id="po-1", account_id="acc-0",
           amount_minor=10000, open_minor=10000, currency="CNY",
           expected_date=date(2026, 11, 30), counterparty_account=PAYEE, refs="[]",
           version=1, created_at=AT)
    insert("employees", id="E001", name="张三", department="财务部", account=EMPLOYEE,
           account_kind="domestic", bank="icbc", version=1, created_at=AT, updated_at=AT)
    insert("payee_verifications", fingerprint=FINGERPRINT, account_masked="6222****0001",
           name="某某贸易", via_bank="icbc", passed=True, checks="[]", checked_at=AT)
    insert("bank_messages", at=AT, bank="icbc", kind="submit",
           raw=f"<CdtrAcct><Id>{PAYEE}</Id></CdtrAcct>".encode())
    insert("payroll_runs", id="pr-1", content_sha256="0" * 64, origin="test", period="2026-11",
           debtor_id="acc-0", currency="CNY", line_count=1, total_minor=880000, actor="test",
           created_at=AT)
    insert("payroll_lines", run_id="pr-1", line_no=1, row="row 2", employee_id="E002",
           name="李四", account=WORKER, account_kind="domestic", bank="icbc",
           amount_minor=880000, currency="CNY", remittance="工资", state="pending",
           attempts=0, version=1)


def _everything(engine: Engine) -> str:
    plain = create_engine(engine.url.render_as_string(hide_password=False), poolclass=NullPool)
    try:
        with plain.connect() as conn:
            return " ".join(
                " ".join(str(v) for v in row)
                for table in ("accounts", "payment_orders", "statement_entries", "recon_items",
                              "employees", "payroll_lines", "payee_verifications")
                for row in conn.execute(text(f"select * from {table}")))
    finally:
        plain.dispose()


def test_the_migration_seals_rows_written_before_it(old_store: Engine) -> None:
    """Written in plain text at the previous heads; after the upgrade no number is left in
    plain text, and every one reads back through the store."""
    assert all(n in _everything(old_store) for n in (OURS, PAYEE, EMPLOYEE, WORKER))
    migrate(old_store, SEALED)
    assert current_revision(old_store) == "0010_sealed"
    raw = _everything(old_store)
    assert [n for n in (OURS, OTHER, PAYEE, EMPLOYEE, WORKER, FINGERPRINT) if n in raw] == []
    migrate(old_store)  # the later heads too: the store's code reads their columns
    with UnitOfWork(old_store) as unit:
        assert unit.accounts.get("acc-0").number.reveal() == OURS
        assert [a.id for a in unit.accounts.by_number(OTHER)] == ["acc-1"]
        assert unit.orders.get("po-1").payee.account.reveal() == PAYEE
        assert unit.control.names_for_account(PAYEE, other_than="x") == {"某某贸易"}
        entries = unit.statements.entries("acc-0")
        assert [e["counterparty_account"] for e in entries] == [PAYEE, None]
        assert unit.flows.employees.get("E001").account.reveal() == EMPLOYEE
        found = unit.flows.verifications.passed_since(
            [FINGERPRINT], since=AT.replace(tzinfo=UTC) - timedelta(days=1))
        assert list(found) == [FINGERPRINT]
    cipher = cipher_of(old_store)
    with old_store.connect() as conn:
        for table, column, number in (("recon_items", "counterparty_account", PAYEE),
                                      ("payroll_lines", "account", WORKER)):
            stored = conn.execute(text(f"select {column} from {table}")).scalar_one()
            assert cipher.open(stored, f"{table}.{column}") == number
        raw = bytes(conn.execute(text("select raw from bank_messages")).scalar_one())
        assert PAYEE.encode() not in raw
        assert PAYEE.encode() in cipher.box.open_bytes(raw, "bank_messages.raw")


def test_after_the_migration_a_number_is_unique_per_bank_through_its_blind_index(
        old_store: Engine) -> None:
    migrate(old_store, SEALED)
    migrate(old_store, SEALED)  # a second run changes nothing
    from tests.builders import NOW, an_account

    with pytest.raises(IntegrityError), UnitOfWork(old_store) as unit:
        unit.accounts.add(an_account(id="acc-again"), at=NOW)  # OURS at icbc, once more
        unit.commit()
    assert current_revision(old_store) == "0010_sealed"


def test_the_migration_refuses_to_run_without_a_key_on_a_server(
        old_store: Engine) -> None:
    if old_store.dialect.name == "sqlite":
        pytest.skip("a SQLite file gets a key file beside it")
    keyless = make_engine(old_store.url.render_as_string(hide_password=False), env={})
    try:
        with pytest.raises(Exception, match="BANKGATE_SECRET_KEY"):
            migrate(keyless)
        assert OURS in _everything(old_store)  # nothing half-done: still all plain
    finally:
        keyless.dispose()


def test_a_downgrade_opens_the_envelopes_and_a_new_upgrade_seals_them_again(
        old_store: Engine) -> None:
    from alembic import command

    from bankgate.store.migrate import alembic_config

    migrate(old_store, SEALED)
    command.downgrade(alembic_config(old_store), "0009_archive")  # 0010_sealed only
    assert current_revision(old_store) == "+".join(PREVIOUS_HEADS)
    assert all(n in _everything(old_store) for n in (OURS, PAYEE, EMPLOYEE, WORKER))
    migrate(old_store, SEALED)
    assert OURS not in _everything(old_store)
    with UnitOfWork(old_store) as unit:
        assert [a.id for a in unit.accounts.by_number(OURS)] == ["acc-0"]
