"""Routing: rails by amount, urgency and time from each bank's table, stored and explained."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bankgate.bootstrap import build_app
from bankgate.domain import Money, currency, parse_amount
from bankgate.domain.routing import choose_route
from bankgate.errors import ConfigError, NotFound
from bankgate.services.payments import create_orders
from bankgate.services.routing import load_table, route_orders, routing_table
from bankgate.settings import Settings
from tests.builders import a_draft, an_account

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
TUESDAY_20 = datetime(2026, 11, 24, 20, 0, tzinfo=SHANGHAI)
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=SHANGHAI)


def cny(text: str) -> Money:
    return parse_amount(text, currency("CNY"))


def route(bank: str, amount: str, *, urgent: bool, at: datetime, same_bank: bool = False,
          table=None):
    return choose_route(table or routing_table(bank), same_bank=same_bank, amount=cny(amount),
                        urgent=urgent, at=at)


def test_a_payee_at_the_same_bank_gets_a_book_transfer_at_any_hour():
    chosen = route("icbc", "2000000.00", urgent=True, at=SATURDAY, same_bank=True)
    assert chosen.rail == "book"
    assert chosen.explanation == "same bank → 行内转账 same-bank book transfer"


def test_a_large_urgent_payment_in_business_hours_goes_by_hvps_and_says_why():
    chosen = route("icbc", "80000.00", urgent=True, at=TUESDAY_10)
    assert chosen.rail == "hvps" and chosen.departs_at == TUESDAY_10
    assert chosen.explanation == (
        "urgent, 80000.00 CNY (ibps: 80000.00 CNY is above its per-payment limit of 50000.00 "
        "CNY) within 08:30–17:15 → 大额实时支付系统 HVPS (CNAPS large-value)")
    assert chosen.considered[0] == "book: only for payees at the same bank"


def test_a_large_urgent_payment_on_a_saturday_waits_for_monday_morning():
    chosen = route("icbc", "80000.00", urgent=True, at=SATURDAY)
    assert chosen.rail == "hvps"
    assert chosen.departs_at == datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI)
    assert "waits for it to open at 2026-11-30 08:30" in chosen.explanation


@pytest.mark.parametrize(("bank", "amount", "urgent", "at", "rail"), [
    ("icbc", "20000.00", True, TUESDAY_20, "ibps"),  # small and urgent: real time, 7×24
    ("icbc", "20000.00", False, TUESDAY_10, "beps"),  # small, not urgent: bulk, cheapest
    ("icbc", "50000.00", False, TUESDAY_10, "beps"),  # the limit itself is still bulk
    ("icbc", "50000.01", False, TUESDAY_10, "hvps"),
    ("boc", "20000.00", True, TUESDAY_10, "hvps"),  # boc prefers large-value in its hours
    ("boc", "20000.00", True, TUESDAY_20, "ibps"),  # and 超级网银 after them
])
def test_each_bank_chooses_by_its_own_table(bank, amount, urgent, at, rail):
    assert route(bank, amount, urgent=urgent, at=at).rail == rail


def test_a_bank_whose_hvps_closes_earlier_sends_the_payment_next_morning():
    late = datetime(2026, 11, 24, 17, 5, tzinfo=SHANGHAI)
    assert route("icbc", "80000.00", urgent=True, at=late).departs_at == late
    assert route("cmb", "80000.00", urgent=True, at=late).departs_at == datetime(
        2026, 11, 25, 8, 30, tzinfo=SHANGHAI)


def test_holidays_close_business_rails_and_make_up_days_open_them():
    table = replace(routing_table("icbc"), holidays=frozenset({date(2026, 11, 24)}),
                    workdays=frozenset({date(2026, 11, 29)}))
    assert route("icbc", "80000.00", urgent=True, at=TUESDAY_10, table=table).departs_at == \
        datetime(2026, 11, 25, 8, 30, tzinfo=SHANGHAI)
    sunday = datetime(2026, 11, 29, 9, 0, tzinfo=SHANGHAI)
    assert route("icbc", "80000.00", urgent=True, at=sunday, table=table).departs_at == sunday


def test_the_departure_is_given_in_the_callers_time_zone():
    at = TUESDAY_10.astimezone(UTC)
    assert route("icbc", "80000.00", urgent=True, at=at).departs_at.tzinfo == UTC


TABLE = """timezone = "Asia/Shanghai"
urgent = ["hvps"]
normal = ["hvps"]
[[rail]]
id = "hvps"
name = "HVPS"
days = "business"
opens = "08:30"
closes = "17:15"
"""


@pytest.mark.parametrize(("text", "message"), [
    (TABLE + 'colour = "red"\n', "rail[0].colour: unknown key"),
    (TABLE.replace('opens = "08:30"', 'opens = "8h30"'), "rail[0].opens: '8h30' is not HH:MM"),
    (TABLE.replace('urgent = ["hvps"]', 'urgent = ["fast"]'), "urgent: expected a list of rail "
                                                              "ids from ['hvps']"),
    (TABLE + 'max_amount = "50,000"\n', "rail[0].max_amount: '50,000' is not a plain decimal"),
    (TABLE.replace('days = "business"', 'days = "weekends"'), "rail[0]: 'weekends' is not a "
                                                              "valid Days"),
    (TABLE.replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"'),
     "timezone: 'Mars/Olympus' is unknown"),
    ("[[rail]\n", "cannot read the routing table"),
    ('timezone = "UTC"\nurgent = []\nnormal = []\n', "needs at least one [[rail]]"),
])
def test_a_bad_routing_table_is_refused_naming_the_file_and_key(tmp_path: Path, text, message):
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_table("bank", path)
    assert message in str(caught.value) and str(path) in str(caught.value)


CONFIG = {"accounts": [{"id": "acc-icbc", "bank": "icbc", "number": "6222020200001000001",
                        "currency": "CNY", "name": "示例科技有限公司"}]}


def test_routing_an_order_stores_the_choice_and_its_explanation(store_url):
    app = build_app(Settings(db_url=store_url), CONFIG)
    try:
        [same, other] = create_orders(
            uow=app.uow, drafts=[a_draft(an_account(), amount="80000.00"),
                                 a_draft(an_account(), amount="80000.00", payee_bank="cmb")],
            actor="user:t", now=app.now, source="test")
        routes = route_orders(uow=app.uow, order_ids=[other.id, same.id], urgent=True,
                              now=lambda: TUESDAY_10)
        assert [r.rail for r in routes] == ["hvps", "book"]
        with app.uow() as unit:
            stored = unit.flows.routes.get(other.id)
        assert stored["rail"] == "hvps" and stored["urgent"] is True
        assert "within 08:30–17:15" in stored["explanation"] and len(stored["considered"]) == 3
        with pytest.raises(NotFound, match="po_nope"):
            route_orders(uow=app.uow, order_ids=["po_nope"], urgent=False, now=app.now)
    finally:
        app.close()
