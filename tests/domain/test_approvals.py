"""Approvals are bound to the canonical hash of the order they approve (A-06, INV-4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bankgate.domain import AccountNumber, FlowType, Payee, parse_amount
from bankgate.domain.approvals import (
    Approval,
    ApprovalAct,
    canonical_order_bytes,
    order_hash,
    orders_hash,
)
from bankgate.domain.ids import AccountId, OrderId
from tests.builders import NOW
from tests.policy.builders import an_order


def _approval_of(order):  # type: ignore[no-untyped-def]
    return Approval(id="ap-1", order_id=order.id, act=ApprovalAct.APPROVE,
                    order_hash=order_hash(order), user_id="u-anna", role="approver", at=NOW,
                    policy_version=1)


def test_the_canonical_bytes_are_stable_sorted_json_of_the_money_moving_fields() -> None:
    order = an_order("1200.50")
    text = canonical_order_bytes(order).decode()
    assert text.startswith('{"amount_minor":"120050","currency":"CNY","debtor_account":')
    assert '"payee_account":"6222020200009000001"' in text
    assert canonical_order_bytes(order) == canonical_order_bytes(replace(order))


EDITS = {
    "amount": lambda o: replace(o, amount=parse_amount("1200.51", o.amount.currency)),
    "payee name": lambda o: replace(o, payee=replace(o.payee, name="另一家公司")),
    "payee account": lambda o: replace(
        o, payee=replace(o.payee, account=AccountNumber.parse("6222020200009000002"))),
    "payee bank": lambda o: replace(o, payee=Payee(name=o.payee.name, account=o.payee.account,
                                                   bank=None)),
    "execution date": lambda o: replace(o, execution_date=o.execution_date + timedelta(days=1)),
    "debtor account": lambda o: replace(o, debtor=AccountId("acc-other")),
    "flow": lambda o: replace(o, flow=FlowType.PAYROLL),
    "order id (approval of X shown for Y)": lambda o: replace(o, id=OrderId("ord-2")),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a06_editing_any_bound_field_voids_the_approval(edit: str) -> None:
    order = an_order("1200.50")
    approval = _approval_of(order)
    assert approval.is_bound_to(order)
    assert not approval.is_bound_to(EDITS[edit](order))


def test_correcting_the_remittance_text_keeps_the_approval_bound() -> None:
    order = an_order("1200.50")
    assert _approval_of(order).is_bound_to(replace(order, remittance="INV-1 corrected"))


def test_a_voided_approval_is_bound_to_nothing() -> None:
    order = an_order()
    assert not replace(_approval_of(order), voided_at=NOW).is_bound_to(order)


def test_the_hash_over_several_orders_ignores_their_order_but_not_their_content() -> None:
    a, b = order_hash(an_order(order_id="a")), order_hash(an_order(order_id="b"))
    assert orders_hash([a, b]) == orders_hash([b, a])
    assert orders_hash([a, b]) != orders_hash([a])
