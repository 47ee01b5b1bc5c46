"""Creating orders: one transaction with its audit records and its batching job (INV-5, INV-6)."""

from __future__ import annotations

import pytest

from bankgate.bootstrap import build_app
from bankgate.domain import InvalidAmount, Status, currency
from bankgate.services.batching import form_batches
from bankgate.services.payments import create_orders, import_order_file
from bankgate.settings import Settings
from tests.builders import NOW, TODAY, a_draft, an_account

CONFIG = {
    "accounts": [
        {
            "id": "acc-icbc",
            "bank": "icbc",
            "number": "6222020200001000001",
            "currency": "CNY",
            "name": "示例科技有限公司",
        },
        {
            "id": "acc-cmb",
            "bank": "cmb",
            "number": "6214830200002000002",
            "currency": "CNY",
            "name": "示例科技有限公司",
        },
    ]
}


@pytest.fixture
def app(store_url):
    application = build_app(Settings(db_url=store_url), {**CONFIG, "policy": "straight-through"})
    application.now = lambda: NOW
    yield application
    application.close()


def test_created_orders_are_released_with_every_step_audited_and_a_batching_job(app):
    orders = create_orders(
        uow=app.uow, drafts=[a_draft(), a_draft()], actor="user:alice", now=app.now, source="test"
    )
    assert {o.status for o in orders} == {Status.RELEASED} and {o.version for o in orders} == {4}
    with app.uow() as unit:
        history = unit.audit.for_subject(orders[0].id)
        assert [(h["action"], h["to_status"]) for h in history] == [
            ("order.created", "draft"),
            ("order.transition", "pending_approval"),
            ("order.transition", "approved"),
            ("order.transition", "released"),
        ]
        assert unit.jobs.pending("form_batches") == 1


def test_an_amount_in_another_currency_than_the_debtor_account_is_refused():
    eur = a_draft(an_account(currency=currency("EUR")))
    with pytest.raises(InvalidAmount, match="differs from the debtor account's currency"):
        from bankgate.domain import new_instruction_id, new_order_id, new_payment_order

        new_payment_order(
            id=new_order_id(),
            instruction_id=new_instruction_id(),
            flow=eur.flow,
            debtor=an_account(),
            payee=eur.payee,
            amount=eur.amount,
            execution_date=TODAY,
            remittance="",
            at=NOW,
        )


def test_batches_group_by_debtor_account_and_date_and_respect_the_size_cap(app):
    with app.uow() as unit:
        icbc, cmb = unit.accounts.get("acc-icbc"), unit.accounts.get("acc-cmb")
    drafts = [a_draft(icbc) for _ in range(5)] + [a_draft(cmb) for _ in range(2)]
    create_orders(uow=app.uow, drafts=drafts, actor="t", now=app.now, source="t")
    batches = form_batches(uow=app.uow, now=app.now, max_batch=3)
    assert sorted((b.key.bank, b.count) for b in batches) == [("cmb", 2), ("icbc", 2), ("icbc", 3)]
    assert form_batches(uow=app.uow, now=app.now) == []  # nothing left unbatched
    with app.uow() as unit:
        assert unit.jobs.pending("dispatch") == 3


def test_a_payment_file_is_imported_once_by_content_and_a_bad_one_not_at_all(app):
    """K-03: re-import yields the same orders once; a broken file persists nothing."""
    content = (
        "debtor_account,payee_name,payee_account,payee_bank,amount,currency\n"
        "acc-icbc,张三,6222020200009000001,icbc,10.00,CNY\n"
        "acc-icbc,李四,6222020200009000002,icbc,20.00,CNY\n"
    ).encode()
    first, created = import_order_file(
        uow=app.uow, content=content, origin="pay.csv", actor="t", now=app.now, today=TODAY
    )
    again, created_again = import_order_file(
        uow=app.uow, content=content, origin="pay.csv", actor="t", now=app.now, today=TODAY
    )
    assert created and not created_again and [o.id for o in again] == [o.id for o in first]
    broken = content + "acc-icbc,王五,6222020200009000003,icbc,abc,CNY\n".encode()
    with pytest.raises(Exception, match="row 4, field 'amount'"):
        import_order_file(
            uow=app.uow, content=broken, origin="pay2.csv", actor="t", now=app.now, today=TODAY
        )
    with app.uow() as unit:
        assert sum(unit.orders.count_by_status().values()) == 2
