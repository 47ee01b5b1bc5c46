"""Reference keys are computed when an entry or an open item is stored (migration
0015_recon_keys) and reconcile hands them to the matcher: the result is the one the matcher
gives when it extracts them itself (rows stored before the migration), INV-5."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from bankgate.domain.errors import InvalidField
from bankgate.domain.recon_keys import item_keys, pack_item_keys, pack_keys, remittance_keys
from bankgate.services.recon import reconcile, unmatch
from bankgate.services.recon_items import import_receipts
from bankgate.services.statements import import_statement_file
from bankgate.store.tables import statement_entries
from bankgate.store.tables_recon import recon_items
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import CamtEntry, bank_today, camt_file

REMITTANCE = "货款 发票号码：ＩＮＶ－２０２６－００４２ 及 12345678"


def _receipt_and_entry(app, world, *, remittance: str = REMITTANCE) -> None:
    number = next(a.number for a in world.company_accounts() if a.bank == "boc")
    receipts = json.dumps([{"account": "boc-cny", "customer": "上海宏达贸易有限公司",
                            "amount": "12000.00", "due_date": str(bank_today()),
                            "invoices": ["INV-2026-0042"]}]).encode()
    import_receipts(uow=app.uow, content=receipts, origin="ar.json", now=app.now)
    camt = camt_file(message="053", account=number, currency="CNY", on=bank_today(),
                     opening=Decimal("0.00"), closing=Decimal("11990.00"),
                     entries=[CamtEntry(Decimal("11990.00"), servicer_ref="BOC-R-1",
                                        counterparty="代付某某", remittance=remittance)])
    import_statement_file(uow=app.uow, content=camt, origin="boc.xml", now=app.now)


def _stored_keys(app) -> tuple[list[str | None], list[tuple[str, str | None]]]:
    with app.engine.connect() as conn:
        lines = [r.recon_keys for r in conn.execute(select(statement_entries.c.recon_keys))]
        items = [(r.refs, r.recon_keys) for r in conn.execute(
            select(recon_items.c.refs, recon_items.c.recon_keys))]
    return lines, items


def _set_keys(app, line_keys: str | None, item_keys_: str | None) -> None:
    with app.engine.begin() as conn:
        conn.execute(update(statement_entries).values(recon_keys=line_keys))
        conn.execute(update(recon_items).values(recon_keys=item_keys_))


def test_an_imported_entry_and_an_imported_item_get_their_reference_keys(gateway, world):
    _receipt_and_entry(gateway, world)
    lines, items = _stored_keys(gateway)
    assert lines == [pack_keys(remittance_keys(REMITTANCE))] == ["INV20260042 20260042 12345678"]
    ((refs, keys),) = items  # the ERP's invoice number, kept as its keys
    assert json.loads(refs) == ["INV20260042", "20260042"]
    assert keys == pack_item_keys(item_keys(json.loads(refs))) == "INV20260042 20260042;20260042"


def _outcome(app) -> list[tuple[str, int, str, list[tuple[str, int]], int]]:
    with app.uow() as unit:
        return [(m["rule"], m["confidence"], m["explanation"], m["allocations"],
                 m["difference_minor"]) for m in unit.recon.matches(state="confirmed")]


def test_reconcile_matches_by_the_stored_keys_as_by_keys_it_extracts_itself(gateway, world):
    _receipt_and_entry(gateway, world)
    run = reconcile(uow=gateway.uow, config=gateway.finance.recon, now=gateway.now,
                    account_id="boc-cny")
    stored = _outcome(gateway)
    assert run.confirmed == 1 and stored[0][0] == "reference", stored
    assert stored[0][2].startswith("reference INV20260042 in the remittance, fee 10.00 deducted")
    with gateway.uow() as unit:
        match_id = unit.recon.matches(state="confirmed")[0]["id"]
    unmatch(uow=gateway.uow, match_id=match_id, actor="user:clerk", reason="check again",
            now=gateway.now)
    _set_keys(gateway, None, None)  # as rows stored before 0015_recon_keys
    again = reconcile(uow=gateway.uow, config=gateway.finance.recon, now=gateway.now,
                      account_id="boc-cny")
    assert again.confirmed == 1 and _outcome(gateway) == stored


def test_reconcile_reads_the_keys_from_the_store_not_from_the_text(gateway, world):
    """A remittance without a number, but keys stored with it: the stored keys decide (and
    without them the line names nothing and stays unmatched)."""
    _receipt_and_entry(gateway, world, remittance="货款")
    assert _stored_keys(gateway)[0] == [""]
    _set_keys(gateway, "INV20260042", "INV20260042 20260042;20260042")
    run = reconcile(uow=gateway.uow, config=gateway.finance.recon, now=gateway.now,
                    account_id="boc-cny")
    assert run.confirmed == 1 and _outcome(gateway)[0][0] == "reference"


def test_stored_item_keys_that_do_not_fit_its_references_are_refused_naming_the_item(
        gateway, world):
    _receipt_and_entry(gateway, world)
    _set_keys(gateway, None, "INV20260042")  # one reference's keys, the item has two
    with pytest.raises(InvalidField,
                       match=r"open item it_\w+: recon keys .*: 1 references' keys, the item has"):
        reconcile(uow=gateway.uow, config=gateway.finance.recon, now=gateway.now,
                  account_id="boc-cny")
