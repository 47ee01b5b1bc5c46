"""Reports: their figures agree with the store and the banks, and every file is written."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bankgate.cli.reports import write_all
from bankgate.errors import ConfigError
from bankgate.services.cash import fetch_balances
from bankgate.services.finance_config import ReportSettings, finance_config
from bankgate.services.recon import reconcile
from bankgate.services.recon_items import import_receipts
from bankgate.services.reports import (
    balance_history,
    cash_position,
    forecast,
    payment_status,
    recon_report,
)
from bankgate.services.sync import sync_accounts
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import bank_today, pay, sound_payees


def _ready(app, payees, count=3):
    orders = pay(app, sound_payees(payees, count))
    sync_accounts(uow=app.uow, channels=app.channels, now=app.now, config=app.finance.sync,
                  through=bank_today())
    reconcile(uow=app.uow, config=app.finance.recon, now=app.now)
    return orders


def _zone(app):
    return app.finance.sync.zone


def test_cash_position_totals_every_bank_balance_and_says_how_fresh_it_is(
        gateway, sandbox, payees, world):
    _ready(gateway, payees)
    fetch_balances(uow=gateway.uow, channels=gateway.channels, now=gateway.now)
    report = cash_position(uow=gateway.uow, settings=gateway.finance.reports,
                           zone=_zone(gateway), now=gateway.now)
    at_banks = sum(sandbox.ledger.balance_minor(a.bank, a.number)
                   for a in world.company_accounts())
    assert report.extra["total"] == Decimal(at_banks).scaleb(-2)
    accounts = [r for r in report.rows if r[2]]
    assert len(accounts) == 3 and all(r[7] == "0 min" and "bank" in r[8] for r in accounts)


def test_other_currencies_are_converted_at_the_rates_given_and_a_missing_rate_is_named(
        gateway, sandbox, payees):
    _ready(gateway, payees, 1)
    with_usd = ReportSettings(currency="USD", fx={"CNY": Decimal("0.1400")})
    report = cash_position(uow=gateway.uow, settings=with_usd, zone=_zone(gateway),
                           now=gateway.now)
    balances = [r for r in report.rows if r[2]]
    assert all(r[5] == (r[4] * Decimal("0.1400")).quantize(Decimal("0.01")) for r in balances)
    no_rate = cash_position(uow=gateway.uow, settings=ReportSettings(currency="EUR"),
                            zone=_zone(gateway), now=gateway.now)
    assert no_rate.extra["total"] == 0 and "no FX rate for CNY" in no_rate.notes[0]


def test_the_forecast_adds_expected_receipts_on_their_due_day(gateway, sandbox, payees):
    _ready(gateway, payees, 1)
    due = bank_today() + timedelta(days=2)
    import_receipts(uow=gateway.uow, origin="ar.json", now=gateway.now, content=json.dumps([
        {"account": "cmb-cny", "customer": "客户丙", "amount": "5000.00",
         "due_date": str(due), "invoices": ["INV-9"]}]).encode())
    report = forecast(uow=gateway.uow, settings=gateway.finance.reports, zone=_zone(gateway),
                      now=gateway.now, days=5)
    by_day = {r[0]: r for r in report.rows}
    assert by_day[due][2] == Decimal("5000.00")
    assert by_day[due][4] - by_day[due][1] == Decimal("5000.00")
    assert report.rows[-1][4] - report.rows[0][1] == Decimal("5000.00")


def test_history_status_and_recon_reports_agree_with_the_store(gateway, sandbox, payees, world):
    orders = _ready(gateway, payees)
    history = balance_history(uow=gateway.uow, zone=_zone(gateway), now=gateway.now, days=3)
    icbc = next(a for a in world.company_accounts() if a.bank == "icbc")
    today_row = next(r for r in history.rows if r[0] == bank_today() and r[1] == "icbc-cny")
    assert today_row[3] == Decimal(sandbox.ledger.balance_minor("icbc", icbc.number)).scaleb(-2)
    status = payment_status(uow=gateway.uow)
    assert status.rows == (("settled", "CNY", len(orders),
                            sum((o.amount.amount for o in orders), Decimal(0))),)
    recon = recon_report(uow=gateway.uow, zone=_zone(gateway), now=gateway.now)
    assert recon.rows[-1][1:4] == (len(orders), len(orders), Decimal("100.0"))


def test_every_report_is_written_as_csv_excel_and_charts(gateway, sandbox, payees, tmp_path):
    _ready(gateway, payees, 2)
    files = write_all(gateway, tmp_path / "out")
    names = sorted(p.name for p in files)
    for stem in ("cash_position", "forecast", "balance_history", "payment_status",
                 "reconciliation"):
        assert {f"{stem}.csv", f"{stem}.png", f"{stem}.svg"} <= set(names)
    assert all(p.stat().st_size > (5000 if p.suffix in (".png", ".svg") else 50) for p in files)
    assert (tmp_path / "out" / "cash_position.png").read_bytes()[:4] == b"\x89PNG"
    book = load_workbook(tmp_path / "out" / "reports.xlsx")
    assert book.sheetnames == ["cash_position", "forecast", "balance_history",
                               "payment_status", "reconciliation"]
    rows = list(csv.reader(io.StringIO(
        (tmp_path / "out" / "payment_status.csv").read_text("utf-8-sig"))))
    sheet = list(book["payment_status"].iter_rows(min_row=3, values_only=True))
    assert rows[1][:3] == ["settled", "CNY", "2"] and sheet[0][:3] == ("settled", "CNY", 2)


@pytest.mark.parametrize(("section", "message"), [
    ({"sync": {"intraday": "every minute"}}, "sync.intraday"),
    ({"sync": {"lookback_days": 0}}, "sync.lookback_days"),
    ({"sync": {"colour": 1}}, "unknown key 'colour'"),
    ({"reports": {"fx": {"USD": 7.1}}}, "reports.fx.USD"),
    ({"reports": {"currency": "XXX1"}}, "reports.currency"),
    ({"recon": {"auto_confirm_threshold": 101}}, "recon"),
])
def test_bad_settings_are_refused_naming_the_key(section, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        finance_config(section)


def test_settings_are_read_from_the_configuration():
    found = finance_config({"sync": {"statements": "0 7 * * *", "lookback_days": 14},
                            "reports": {"currency": "USD", "fx": {"CNY": "0.14"}},
                            "recon": {"auto_confirm_threshold": 95}})
    assert (found.sync.statements, found.sync.lookback_days) == ("0 7 * * *", 14)
    assert found.reports.fx == {"CNY": Decimal("0.14")}
    assert found.recon == replace(found.recon, auto_confirm_threshold=95)


def test_the_forecast_takes_off_approved_orders_not_yet_paid(gateway, payees):
    from bankgate.services.intake import parse_order
    from bankgate.services.payments import create_orders

    with gateway.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    payee = sound_payees(payees, 1)[0]
    draft = parse_order({"debtor_account": "icbc-cny", "payee_name": payee["name"],
                         "payee_account": payee["account"], "payee_bank": payee["bank"],
                         "amount": "800.00", "currency": "CNY", "remittance": "INV-F-1"},
                        where="t", accounts=accounts, today=gateway.now().date())
    (order,) = create_orders(uow=gateway.uow, drafts=[draft], actor="user:t",
                             now=gateway.now, source="t")  # released: approved, not yet sent
    report = forecast(uow=gateway.uow, settings=gateway.finance.reports, zone=_zone(gateway),
                      now=gateway.now, days=3)
    assert order.status.value == "released"
    assert sum(r[3] for r in report.rows) == Decimal("800.00")
    assert report.rows[-1][4] == report.rows[0][1] - Decimal("800.00")
