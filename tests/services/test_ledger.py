"""Vouchers: balanced by construction, exported once, formula-looking cells neutralised."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bankgate.domain.errors import InvalidField
from bankgate.domain.ledger import (
    DEFAULT_CHART,
    LedgerRole,
    Posting,
    Settled,
    VoucherDraft,
    bank_ledger_account,
    voucher_for,
)
from bankgate.domain.recon import OpenItemKind
from bankgate.services.ledger import (
    CSV_COLUMNS,
    mark_exported,
    neutralise,
    prepare_export,
    reverse_match,
)
from bankgate.services.recon import reconcile
from bankgate.services.sync import sync_accounts
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import bank_today, pay, sound_payees

BANK = bank_ledger_account("icbc-cny", "icbc")


def test_a_supplier_payment_debits_the_payable_and_credits_the_bank():
    draft = voucher_for(bank=BANK, lines_total_minor=-100_000, summary="付款", settled=[
        Settled(kind=OpenItemKind.PAYMENT, flow="supplier", amount_minor=-100_000, memo="x")])
    assert [(p.account.code, p.amount_minor) for p in draft.postings] == [
        ("1002.icbc-cny", -100_000), ("2202", 100_000)]


def test_a_receipt_short_by_a_fee_books_the_fee():
    draft = voucher_for(bank=BANK, lines_total_minor=99_500, summary="收款", settled=[
        Settled(kind=OpenItemKind.RECEIPT, flow=None, amount_minor=100_000, memo="x")])
    assert [(p.account.code, p.amount_minor) for p in draft.postings] == [
        ("1002.icbc-cny", 99_500), ("1122", -100_000), ("6603.01", 500)]


@pytest.mark.parametrize(("kind", "flow", "role"), [
    (OpenItemKind.PAYMENT, "payroll", LedgerRole.PAYROLL),
    (OpenItemKind.PAYMENT, "reimbursement", LedgerRole.EMPLOYEE_PAYABLE),
    (OpenItemKind.CLAIM, None, LedgerRole.EMPLOYEE_PAYABLE),
    (OpenItemKind.TRANSFER_OUT, "internal_transfer", LedgerRole.CLEARING),
    (OpenItemKind.TRANSFER_IN, "internal_transfer", LedgerRole.CLEARING),
    (OpenItemKind.FEE, None, LedgerRole.FEES),
    (OpenItemKind.RETURN, "supplier", LedgerRole.PAYABLE),
])
def test_each_kind_of_item_has_its_counter_account(kind, flow, role):
    sign = 1 if kind in (OpenItemKind.TRANSFER_IN, OpenItemKind.RETURN) else -1
    draft = voucher_for(bank=BANK, lines_total_minor=sign * 500, summary="s", settled=[
        Settled(kind=kind, flow=flow, amount_minor=sign * 500, memo="m")])
    assert draft.postings[1].account == DEFAULT_CHART[role]


@given(lines=st.integers(-10**12, 10**12).filter(bool),
       items=st.lists(st.integers(-10**12, 10**12).filter(bool), min_size=1, max_size=5))
def test_every_voucher_balances_whatever_the_figures(lines, items):
    draft = voucher_for(bank=BANK, lines_total_minor=lines, summary="s", settled=[
        Settled(kind=OpenItemKind.RECEIPT, flow=None, amount_minor=a, memo="") for a in items])
    assert sum(p.amount_minor for p in draft.postings) == 0


def test_a_voucher_that_does_not_balance_cannot_be_made():
    with pytest.raises(InvalidField, match="does not balance"):
        VoucherDraft(summary="bad", postings=(Posting(BANK, 100, ""),))


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_cells_that_look_like_formulas_are_neutralised(cell):
    assert neutralise(cell) == "'" + cell and neutralise("上海宏达") == "上海宏达"


def _reconciled(app, payees, count=2):
    pay(app, sound_payees(payees, count))
    sync_accounts(uow=app.uow, channels=app.channels, now=app.now, config=app.finance.sync,
                  through=bank_today())
    reconcile(uow=app.uow, config=app.finance.recon, now=app.now)


def test_vouchers_are_exported_once_and_again_only_when_asked(gateway, sandbox, payees):
    _reconciled(gateway, payees)
    first = prepare_export(uow=gateway.uow, fmt="csv")
    mark_exported(uow=gateway.uow, voucher_ids=first.voucher_ids, now=gateway.now)
    second = prepare_export(uow=gateway.uow, fmt="csv")
    again = prepare_export(uow=gateway.uow, fmt="csv", again=True)
    assert len(first.voucher_ids) == 2 and second.voucher_ids == ()
    assert again.voucher_ids == first.voucher_ids
    rows = list(csv.DictReader(io.StringIO(first.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 4  # two lines per voucher
    for number in {r["voucher_no"] for r in rows}:
        mine = [r for r in rows if r["voucher_no"] == number]
        debit = sum(Decimal(r["debit"] or 0) for r in mine)
        credit = sum(Decimal(r["credit"] or 0) for r in mine)
        assert debit == credit > 0


def test_the_json_export_holds_the_same_vouchers(gateway, sandbox, payees):
    _reconciled(gateway, payees)
    document = json.loads(prepare_export(uow=gateway.uow, fmt="json").content)
    csv_rows = list(csv.DictReader(io.StringIO(
        prepare_export(uow=gateway.uow, fmt="csv").content.decode("utf-8-sig"))))
    assert document["format"] == "bankgate.vouchers/1" and len(document["vouchers"]) == 2
    assert sum(len(v["lines"]) for v in document["vouchers"]) == len(csv_rows)
    assert {v["voucher_no"] for v in document["vouchers"]} == {r["voucher_no"] for r in csv_rows}


def test_two_runs_writing_vouchers_on_one_day_at_once_get_distinct_numbers(
        gateway, sandbox, payees):
    """Concurrent reconcile runs: the second waits for the first's voucher numbers, never
    reuses one (the unique number used to fail the second run on PostgreSQL)."""
    _reconciled(gateway, payees)
    with gateway.uow() as unit:
        first, second = unit.recon.matches()[:2]
    a_written = threading.Event()
    numbers: dict[str, str | None] = {}
    failures: list[BaseException] = []

    def run(name, match, *, hold):
        try:
            with gateway.uow() as unit:
                if not hold:
                    a_written.wait(5)
                numbers[name] = reverse_match(unit, match, at=gateway.now())
                if hold:
                    a_written.set()
                    time.sleep(0.3)  # keep the transaction open while the other one writes
                unit.commit()
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
            a_written.set()

    threads = [threading.Thread(target=run, args=("a", first), kwargs={"hold": True}),
               threading.Thread(target=run, args=("b", second), kwargs={"hold": False})]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert failures == []
    assert numbers["a"] and numbers["b"] and numbers["a"] != numbers["b"]
    with gateway.uow() as unit:
        written = [v["number"] for v in unit.ledger.vouchers(again=True)]
    assert len(written) == len(set(written)) == 4
