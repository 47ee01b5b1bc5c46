"""The reconciliation service end to end on the sandbox banks: payments settle, statements are
synced, entries are matched automatically, every match is booked once (INV-3, INV-5)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from bankgate.domain import Status
from bankgate.domain.errors import InvalidField
from bankgate.services.ledger import books_vs_bank
from bankgate.services.recon import confirm, match_by_hand, reconcile, unmatch
from bankgate.services.recon_items import import_receipts
from bankgate.services.statements import import_statement_file
from bankgate.services.sync import sync_accounts
from bankgate.store.recon import MatchConflict
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import CamtEntry, bank_today, camt_file, pay, sound_payees


def _sync(app):
    return sync_accounts(uow=app.uow, channels=app.channels, now=app.now,
                         config=app.finance.sync, through=bank_today())


def _reconcile(app, **kw):
    return reconcile(uow=app.uow, config=app.finance.recon, now=app.now, **kw)


def _returned_and_settled(payees):
    """Two sound payees and one whose bank sends the money back (closed account at cmb)."""
    sound = sound_payees(payees, 2)
    returned = next(p for p in payees if p["rigged"] == "closed_account" and p["bank"] != "icbc")
    return [*sound, returned]


def test_settled_and_returned_payments_are_matched_automatically_and_booked_once(
        gateway, sandbox, payees):
    orders = pay(gateway, _returned_and_settled(payees))
    assert sorted(o.status for o in orders) == [Status.RETURNED, Status.SETTLED, Status.SETTLED]
    _sync(gateway)
    run = _reconcile(gateway)
    assert run.confirmed == 4  # 3 debits + 1 return credit
    again = _reconcile(gateway)
    assert again.confirmed == 0 and again.lines == 0
    with gateway.uow() as unit:
        total, matched = unit.recon.line_counts("icbc-cny")
        vouchers, postings_sum = unit.ledger.totals()
        books = {b.account_id: b for b in books_vs_bank(unit)}
        matches = unit.recon.matches(state="confirmed")
    assert (total, matched) == (4, 4)
    assert vouchers == 4 and postings_sum == 0  # every voucher balances
    assert books["icbc-cny"].difference == 0 and books["icbc-cny"].unmatched_entries == 0
    assert all(m["confidence"] >= gateway.finance.recon.auto_confirm_threshold
               and m["explanation"] for m in matches)


def test_an_entry_cannot_be_in_two_live_matches_even_by_hand(gateway, sandbox, payees):
    pay(gateway, sound_payees(payees, 1))
    _sync(gateway)
    _reconcile(gateway)
    with gateway.uow() as unit:
        done = unit.recon.matches(state="confirmed")[0]
        items = list(unit.recon.items([i for i, _ in done["allocations"]]))
    with pytest.raises((MatchConflict, InvalidField)):
        match_by_hand(uow=gateway.uow, entry_ids=done["line_ids"], item_ids=items,
                      actor="user:clerk", note="again", now=gateway.now)


def test_unmatch_and_rematch_are_audited_and_keep_the_books_balanced(gateway, sandbox, payees):
    pay(gateway, sound_payees(payees, 1))
    _sync(gateway)
    _reconcile(gateway)
    with gateway.uow() as unit:
        done = unit.recon.matches(state="confirmed")[0]
    reversal = unmatch(uow=gateway.uow, match_id=done["id"], actor="user:clerk",
                       reason="wrong supplier", now=gateway.now)
    with gateway.uow() as unit:
        free = unit.recon.free_lines("icbc-cny")
        open_items = unit.recon.open_items("icbc-cny")
        books = {b.account_id: b for b in books_vs_bank(unit)}["icbc-cny"]
    assert reversal and len(free) == 1 and len(open_items) == 1
    assert books.difference != 0 and books.unmatched_entries == 1  # the report says where not
    match_id, voucher = match_by_hand(uow=gateway.uow, entry_ids=[free[0]["id"]],
                                      item_ids=[open_items[0]["id"]], actor="user:lead",
                                      note="checked the invoice", now=gateway.now)
    with gateway.uow() as unit:
        actions = [r["action"] for r in unit.audit.for_subject(done["id"])]
        actions += [r["action"] for r in unit.audit.for_subject(match_id)]
        actors = [r["actor"] for r in unit.audit.for_subject(match_id)]
        vouchers, postings_sum = unit.ledger.totals()
        books = {b.account_id: b for b in books_vs_bank(unit)}["icbc-cny"]
    assert actions == ["recon.matched", "recon.unmatched", "recon.rematched"]
    assert actors == ["user:lead"] and voucher.startswith("记-")
    assert vouchers == 3 and postings_sum == 0 and books.difference == 0


def test_an_expected_receipt_below_the_threshold_waits_in_the_queue_until_confirmed(
        gateway, world, sandbox):
    number = next(a.number for a in world.company_accounts() if a.bank == "boc")
    receipts = json.dumps([{"account": "boc-cny", "customer": "上海宏达贸易有限公司",
                            "amount": "12000.00", "due_date": str(bank_today()),
                            "invoices": ["INV-2026-0042"]}]).encode()
    imported = import_receipts(uow=gateway.uow, content=receipts, origin="ar.json",
                               now=gateway.now)
    assert (imported.rows, imported.new_items) == (1, 1)
    # The customer pays 11,990.00 (a 10.00 fee deducted) under a shortened name, no invoice.
    camt = camt_file(message="053", account=number, currency="CNY", on=bank_today(),
                     opening=Decimal("0.00"), closing=Decimal("11990.00"),
                     entries=[CamtEntry(Decimal("11990.00"), servicer_ref="BOC-R-1",
                                        counterparty="上海宏达贸易公司", remittance="货款")])
    import_statement_file(uow=gateway.uow, content=camt, origin="boc.xml", now=gateway.now)
    strict = replace(gateway.finance.recon, auto_confirm_threshold=99)
    run = reconcile(uow=gateway.uow, config=strict, now=gateway.now, account_id="boc-cny")
    with gateway.uow() as unit:
        queue = unit.recon.matches(account_id="boc-cny", state="suggested")
    assert run.confirmed == 0 and queue, run
    number = confirm(uow=gateway.uow, match_id=queue[0]["id"], actor="user:clerk",
                     now=gateway.now)
    with gateway.uow() as unit:
        vouchers = unit.ledger.vouchers()
        left = unit.recon.open_items("boc-cny")
        history = [r["action"] for r in unit.audit.for_subject(queue[0]["id"])]
    lines = {p["ledger_account"]: p["amount_minor"] for p in vouchers[0]["postings"]}
    assert number == vouchers[0]["number"] and left == [] and history == ["recon.confirmed"]
    assert lines == {"1002.boc-cny": 1_199_000, "1122": -1_200_000, "6603.01": 1_000}


@pytest.mark.parametrize(("row", "where"), [
    ({"amount": "12.345"}, "row 2, field 'amount'"),
    ({"amount": 12}, "row 2, field 'amount'"),
    ({"account": "nope"}, "row 2, field 'account'"),
    ({"due_date": "31/12/2026"}, "row 2, field 'due_date'"),
    ({"invoices": []}, "row 2, field 'invoices'"),
    ({"currency": "USD"}, "row 2, field 'currency'"),
    ({"colour": "red"}, "row 2, field 'colour'"),
])
def test_a_bad_expected_receipt_names_row_and_field_and_nothing_is_stored(gateway, row, where):
    good = {"account": "icbc-cny", "customer": "客户甲", "amount": "100.00",
            "due_date": "2026-12-31", "invoices": ["INV-1"]}
    content = json.dumps([good, {**good, **row}]).encode()
    with pytest.raises(InvalidField, match=where):
        import_receipts(uow=gateway.uow, content=content, origin="ar.json", now=gateway.now)
    with gateway.uow() as unit:
        assert unit.recon.open_items() == []


def test_expected_receipts_from_csv_are_imported_once(gateway):
    content = ("account,customer,amount,due_date,invoices\n"
               "icbc-cny,客户乙,\"1,200.00\",2026-12-31,INV-7;INV-8\n").encode()
    first = import_receipts(uow=gateway.uow, content=content, origin="ar.csv", now=gateway.now)
    again = import_receipts(uow=gateway.uow, content=content, origin="ar.csv", now=gateway.now)
    assert (first.new_items, again.new_items, again.already_imported) == (1, 0, True)
    with gateway.uow() as unit:
        (item,) = unit.recon.open_items()
    assert item["amount_minor"] == 120_000 and item["kind"] == "receipt"


def test_both_legs_of_an_internal_transfer_are_matched_and_the_clearing_account_nets_to_zero(
        gateway, sandbox, world):
    cmb = next(a for a in world.company_accounts() if a.bank == "cmb")
    transfer = {"name": cmb.holder, "account": cmb.number, "bank": "cmb", "amount": "250000.00",
                "flow": "internal_transfer", "remittance": "资金调拨 TR-0001"}
    (order,) = pay(gateway, [transfer])
    assert order.status is Status.SETTLED
    _sync(gateway)
    run = _reconcile(gateway)
    with gateway.uow() as unit:
        kinds = sorted(unit.recon.items([i for m in unit.recon.matches(state="confirmed")
                                         for i, _ in m["allocations"]]).values(),
                       key=lambda i: i["kind"])
        clearing = unit.ledger.balance_minor("1012.09")
        books = {b.account_id: b.difference for b in books_vs_bank(unit)}
    assert run.confirmed == 2
    assert [i["kind"] for i in kinds] == ["transfer_in", "transfer_out"]
    assert [i["account_id"] for i in kinds] == ["cmb-cny", "icbc-cny"]
    assert clearing == 0 and books["icbc-cny"] == books["cmb-cny"] == 0


def test_a_bank_fee_line_is_booked_to_the_fee_account(gateway, world):
    number = next(a.number for a in world.company_accounts() if a.bank == "boc")
    camt = camt_file(message="053", account=number, currency="CNY", on=bank_today(),
                     opening=Decimal("100.00"), closing=Decimal("85.00"),
                     entries=[CamtEntry(Decimal("-15.00"), servicer_ref="BOC-F-1",
                                        counterparty="中国银行", remittance="跨行汇款手续费")])
    import_statement_file(uow=gateway.uow, content=camt, origin="boc-fee.xml", now=gateway.now)
    run = _reconcile(gateway, account_id="boc-cny")
    with gateway.uow() as unit:
        fees = unit.ledger.balance_minor("6603.01")
    assert run.confirmed == 1 and fees == 1_500


@pytest.mark.parametrize(("content", "where"), [
    (b"", "no expected receipt"), (b"[]", "no expected receipt"),
    (b"account,customer,amount,due_date,invoices\n", "no expected receipt"),
    (b"[{\"account\": 1", "line 1: not valid JSON"), (b"\xff\xfe", "not UTF-8"),
    (b"account,who\nicbc-cny,x\n", "unknown column 'who'"),
])
def test_an_unreadable_receipts_file_is_refused_saying_why(gateway, content, where):
    with pytest.raises(InvalidField, match=where):
        import_receipts(uow=gateway.uow, content=content, origin="ar", now=gateway.now)
