"""Full account numbers sealed at rest (issue 5, INV-7, A-17): the raw rows hold envelopes,
lookups and uniqueness go through the keyed blind index, envelopes are bound to their column,
and a wrong key is refused with a clear error, never garbage."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from bankgate.bootstrap import App, build_app
from bankgate.domain import AccountNumber, BankId, EntryKey, EntryStatus, Money, Source, currency
from bankgate.domain.claims import Employee
from bankgate.domain.statements import StatementEntry
from bankgate.errors import ConfigError, SecurityError
from bankgate.services.payments import create_orders
from bankgate.settings import Settings
from bankgate.store import UnitOfWork, make_engine
from bankgate.store.tables import metadata
from tests.builders import NOW, a_draft, an_account

OURS = "6222020200001000001"  # an_account()'s number
PAYEE = "6222020200009000001"  # a_draft()'s payee
COUNTERPARTY = "6217000011112222333"
EMPLOYEE = "6228480010000012345"
NUMBERS = (OURS, PAYEE, COUNTERPARTY, EMPLOYEE)
#: Tables exempt from the no-plain-number check: none (raw files are sealed too, 0014).
AS_RECEIVED: set[str] = set()


@pytest.fixture
def app(store_url: str) -> Iterator[App]:
    application = build_app(Settings(db_url=store_url), {
        "accounts": [{"id": "acc-icbc", "bank": "icbc", "number": OURS, "currency": "CNY",
                      "name": "示例科技有限公司"}], "policy": "straight-through"})
    yield application
    application.close()
    while _PLAIN:
        _PLAIN.pop().dispose()


_PLAIN: list[Engine] = []


def _plain_engine(app: App) -> Engine:
    """The same database through a bare SQLAlchemy engine: no sealed types, no key."""
    engine = create_engine(app.engine.url, poolclass=NullPool)
    _PLAIN.append(engine)
    return engine


def _fill(app: App) -> None:
    with app.uow() as unit:
        debtor = unit.accounts.get("acc-icbc")
    create_orders(uow=app.uow, drafts=[a_draft(debtor)], actor="test", now=lambda: NOW,
                  source="test")
    entry = StatementEntry(
        key=EntryKey("bank_reference", "REF-1"), amount=Money(Decimal("-100.00"),
                                                               currency("CNY")),
        status=EntryStatus.BOOKED, booking_date=NOW.date(), value_date=NOW.date(),
        bank_reference="REF-1", counterparty_name="某某贸易", counterparty_account=COUNTERPARTY,
        source=Source(origin="test"))
    with app.uow() as unit:
        unit.statements.add_entries("acc-icbc", [entry], statement_id=None, at=NOW)
        unit.statements.archive_raw(f"<IBAN>{OURS}</IBAN><Acct>{COUNTERPARTY}</Acct>".encode(),
                                    name="statement.xml", origin="test", at=NOW)
        unit.flows.employees.add(Employee(
            id="E001", name="张三", department="财务部", email=None,
            account=AccountNumber.parse(EMPLOYEE), bank=BankId("icbc")), at=NOW)
        unit.messages.add(bank="icbc", kind="submit", batch_id=None,
                          raw=f"<CdtrAcct>{PAYEE}</CdtrAcct>".encode(), at=NOW)
        unit.commit()


def test_no_row_of_any_table_holds_a_full_account_number_in_plain_text(app: App) -> None:
    """INV-7 at rest: read every table with plain SQL; the numbers' digits appear nowhere
    (the raw archive included: its bytes are sealed)."""
    _fill(app)
    seen = []
    with _plain_engine(app).connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in AS_RECEIVED:
                continue
            for row in conn.execute(text(f"select * from {table.name}")):
                seen.append((table.name, " ".join(str(v) for v in row)))
    assert {name for name, _ in seen} >= {"accounts", "payment_orders", "statement_entries",
                                          "employees", "audit_log", "bank_messages",
                                          "raw_files"}
    leaks = [(name, n) for name, row in seen for n in NUMBERS if n in row]
    assert leaks == []
    with _plain_engine(app).connect() as conn:
        stored = conn.execute(text("select number, number_bidx from accounts")).one()
    assert stored[0].startswith("bgs1.") and len(stored[1]) == 32


def test_the_repositories_read_the_numbers_back_and_find_by_them(app: App) -> None:
    _fill(app)
    with app.uow() as unit:
        assert unit.accounts.get("acc-icbc").number.reveal() == OURS
        assert [a.id for a in unit.accounts.by_number(OURS)] == ["acc-icbc"]
        assert unit.accounts.find("icbc", OURS) is not None
        assert unit.accounts.find("icbc", PAYEE) is None
        order = unit.orders.list()[0]
        assert order.payee.account.reveal() == PAYEE
        assert unit.statements.entries("acc-icbc")[0]["counterparty_account"] == COUNTERPARTY
        assert unit.flows.employees.get("E001").account.reveal() == EMPLOYEE
        assert unit.control.names_for_account(PAYEE, other_than="x") == {order.payee.name}
        assert unit.control.accounts_for_name(order.payee.name, other_than=PAYEE) == 0


def test_the_policy_groups_orders_by_payee_account_through_the_blind_index(app: App) -> None:
    """Two orders to one payee: randomised envelopes differ, the tag groups them as one."""
    with app.uow() as unit:
        debtor = unit.accounts.get("acc-icbc")
    orders = create_orders(uow=app.uow, drafts=[a_draft(debtor), a_draft(debtor, amount="5")],
                           actor="test", now=lambda: NOW, source="test")
    with _plain_engine(app).connect() as conn:
        rows = conn.execute(text("select payee_account, payee_account_bidx from "
                                 "payment_orders")).all()
    assert rows[0][0] != rows[1][0] and rows[0][1] == rows[1][1]
    with app.uow() as unit:
        around = unit.control.neighbourhood(orders)
        day = orders[0].execution_date
        assert set(around.names) == {PAYEE}
        assert around.to_payee[(PAYEE, day, "CNY")] == 10500


def test_one_number_twice_at_one_bank_is_refused_by_the_unique_blind_index(
        store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        with UnitOfWork(engine) as unit:
            unit.accounts.add(an_account(), at=NOW)
            unit.accounts.add(an_account(id="acc-other", bank="boc"), at=NOW)  # another bank
            unit.commit()
        with pytest.raises(IntegrityError), UnitOfWork(engine) as unit:
            unit.accounts.add(an_account(id="acc-again"), at=NOW)
            unit.commit()
    finally:
        engine.dispose()


def test_an_envelope_copied_into_another_column_does_not_open(app: App) -> None:
    """Context binding: the account's envelope pasted over the payee account of an order."""
    _fill(app)
    plain = _plain_engine(app)
    with plain.begin() as conn:
        envelope = conn.execute(text("select number from accounts")).scalar_one()
        conn.execute(text("update payment_orders set payee_account = :e"), {"e": envelope})
    with app.uow() as unit, pytest.raises(SecurityError,
                                          match=r"payment_orders\.payee_account.*another context"):
        unit.orders.list()


def test_an_altered_envelope_is_refused(app: App) -> None:
    _fill(app)
    with _plain_engine(app).begin() as conn:
        envelope = conn.execute(text("select number from accounts")).scalar_one()
        flipped = envelope[:-6] + ("A" if envelope[-6] != "A" else "B") + envelope[-5:]
        conn.execute(text("update accounts set number = :e"), {"e": flipped})
    with app.uow() as unit, pytest.raises(SecurityError, match=r"accounts\.number"):
        unit.accounts.get("acc-icbc")


def test_a_plain_number_written_behind_the_store_s_back_is_refused_not_shown(app: App) -> None:
    _fill(app)
    with _plain_engine(app).begin() as conn:
        conn.execute(text("update accounts set number = :n"), {"n": OURS})
    with app.uow() as unit, pytest.raises(SecurityError, match="not a sealed secret"):
        unit.accounts.get("acc-icbc")


def test_another_master_key_is_a_clear_security_error_never_garbage(app: App) -> None:
    _fill(app)
    other = make_engine(str(app.engine.url.render_as_string(hide_password=False)),
                        env={"BANKGATE_SECRET_KEY": secrets.token_hex(32)})
    try:
        with UnitOfWork(other) as unit, pytest.raises(SecurityError,
                                                      match="another master key"):
            unit.accounts.get("acc-icbc")
        with UnitOfWork(other) as unit:  # its blind index finds nothing, it does not guess
            assert unit.accounts.by_number(OURS) == []
    finally:
        other.dispose()


def test_a_server_store_without_a_key_is_a_config_error_naming_the_variables(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if store_url.startswith("sqlite"):
        pytest.skip("SQLite files get a key file beside them (tests/crypto/test_master_key.py)")
    engine = make_engine(store_url, env={})
    try:
        with pytest.raises(ConfigError, match=r"BANKGATE_SECRET_KEY.*BANKGATE_SECRET_KEY_FILE"):
            with UnitOfWork(engine) as unit:
                unit.accounts.add(an_account(), at=NOW)
        monkeypatch.delenv("BANKGATE_SECRET_KEY")
        with pytest.raises(ConfigError, match="BANKGATE_SECRET_KEY"):  # at start, not later
            build_app(Settings(db_url=store_url), {}, upgrade_db=False)
    finally:
        engine.dispose()


def test_two_stores_in_one_process_keep_their_own_keys(tmp_path, sqlite_url: str) -> None:
    """The cipher is the engine's, not a global: a second store with another key does not
    change how the first reads."""
    first = make_engine(sqlite_url)
    second = make_engine(sqlite_url, env={"BANKGATE_SECRET_KEY": secrets.token_hex(32)})
    try:
        with UnitOfWork(first) as unit:
            unit.accounts.add(an_account(), at=NOW)
            unit.commit()
        with UnitOfWork(second) as unit, pytest.raises(SecurityError):
            unit.accounts.get("acc-icbc")
        with UnitOfWork(first) as unit:
            assert unit.accounts.get("acc-icbc").number.reveal() == OURS
    finally:
        first.dispose()
        second.dispose()


def test_an_edited_order_keeps_its_blind_index_in_step(app: App) -> None:
    """save_order_terms rewrites payee account and tag together."""
    from dataclasses import replace

    from bankgate.domain import Payee

    with app.uow() as unit:
        debtor = unit.accounts.get("acc-icbc")
    order = create_orders(uow=app.uow, drafts=[a_draft(debtor)], actor="test",
                          now=lambda: NOW, source="test")[0]
    edited = replace(order, payee=Payee(name=order.payee.name,
                                        account=AccountNumber.parse(COUNTERPARTY),
                                        bank=order.payee.bank))
    with app.uow() as unit:
        unit.control.save_order_terms(edited, expected_version=order.version)
        unit.commit()
    with app.uow() as unit:
        assert unit.control.names_for_account(COUNTERPARTY, other_than="x") == {
            order.payee.name}
        assert unit.control.names_for_account(PAYEE, other_than="x") == set()
        got = unit.orders.get(order.id)
        assert got.payee.account.reveal() == COUNTERPARTY
