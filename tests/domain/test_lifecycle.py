"""The payment lifecycle is an explicit state machine; illegal moves raise."""

from __future__ import annotations

import pytest

from bankgate.domain import NEXT, TERMINAL, IllegalTransition, Status, advance, bank_path
from tests.builders import NOW, a_draft

S = Status
ALL_PAIRS = [(a, b) for a in Status for b in Status]


def a_order(status: Status = S.DRAFT):
    from bankgate.domain import new_instruction_id, new_order_id, new_payment_order

    draft = a_draft()
    order = new_payment_order(
        id=new_order_id(),
        instruction_id=new_instruction_id(),
        flow=draft.flow,
        debtor=draft.debtor,
        payee=draft.payee,
        amount=draft.amount,
        execution_date=draft.execution_date,
        remittance="",
        at=NOW,
    )
    from dataclasses import replace

    return replace(order, status=status)


@pytest.mark.parametrize(("from_", "to"), ALL_PAIRS)
def test_every_pair_of_statuses_is_allowed_exactly_when_the_table_says(from_, to):
    order = a_order(from_)
    if to in NEXT[from_]:
        moved = advance(order, to, at=NOW)
        assert moved.status is to and moved.version == order.version + 1
    else:
        with pytest.raises(IllegalTransition, match=f"from {from_} to {to}"):
            advance(order, to, at=NOW)


def test_terminal_statuses_lead_nowhere_except_settled_which_may_be_returned():
    assert NEXT[S.SETTLED] == {S.RETURNED}
    for status in TERMINAL - {S.SETTLED}:
        assert NEXT[status] == frozenset()


def test_the_happy_path_of_design_md_is_legal_step_by_step():
    order = a_order()
    for step in (S.PENDING_APPROVAL, S.APPROVED, S.RELEASED, S.SUBMITTED, S.ACCEPTED,
                 S.SETTLED):
        order = advance(order, step, at=NOW)
    assert order.status is S.SETTLED and order.version == 7


def test_no_order_leaves_released_except_to_the_bank_or_cancelled():
    assert NEXT[S.RELEASED] == {S.SUBMITTED, S.CANCELLED}


@pytest.mark.parametrize(
    ("current", "reported", "path"),
    [
        (S.SUBMITTED, S.SETTLED, (S.ACCEPTED, S.SETTLED)),
        (S.UNKNOWN, S.SETTLED, (S.SETTLED,)),
        (S.UNKNOWN, S.RETURNED, (S.ACCEPTED, S.RETURNED)),
        (S.ACCEPTED, S.ACCEPTED, ()),
        (S.SETTLED, S.ACCEPTED, None),  # B-10: late accepted after settled is ignored
        (S.REJECTED, S.SETTLED, None),
        (S.SETTLED, S.RETURNED, (S.RETURNED,)),  # B-10: returned after settled is a return
        (S.RELEASED, S.SETTLED, None),  # never sent: a bank report cannot move it
    ],
)
def test_bank_reports_move_orders_only_forward_along_legal_transitions(current, reported, path):
    assert bank_path(current, reported) == path
