"""INV-4 checker: every order past `released` holds the controls its decision required.

For each such order: a stored decision; enough live approvals from distinct people, each
bound to the order's *current* canonical hash, none by a maker, none by someone who holds
the payee account; a step-up behind each where the decision asked for one, each time step
used once; a token signature where required; a release record where a releaser was needed.
The keyed tag over the order's terms and requirement must still match (A-14). Returns the
problems found (empty: the invariant holds). Used by tests, `bankgate policy check` and, per
order, by dispatch as the last gate before the bank.
"""

from __future__ import annotations

from collections.abc import Sequence

from bankgate.domain import PaymentOrder
from bankgate.domain.approvals import Approval, ApprovalAct
from bankgate.policy import Release, Requirement
from bankgate.services._tx import UowFactory
from bankgate.store import UnitOfWork
from bankgate.store.control import OrderControl

__all__ = ["check_controls", "order_problems"]


def check_controls(*, uow: UowFactory) -> list[str]:
    """Every violation of INV-4 in the store, one line each."""
    problems: list[str] = []
    with uow() as unit:
        ids = unit.control.released_order_ids()
        orders = unit.orders.get_many(ids)
        controls = unit.control.controls(ids)
        approvals = unit.control.live_approvals(ids)
        for order in orders:
            problems += order_problems(unit, order, controls.get(order.id),
                                       approvals.get(order.id, []))
    return problems


def order_problems(unit: UnitOfWork, order: PaymentOrder, control: OrderControl | None,
                   approvals: Sequence[Approval]) -> list[str]:
    """What is wrong with the controls of one order past approval (empty: none).

    Also the last gate before an order leaves for its bank (services/dispatch.py, A-14):
    besides the approvals, the keyed tag over its terms must still match.
    """
    if control is None:
        return [f"{order.id}: released without a policy decision"]
    problems: list[str] = []
    if not unit.control.terms_intact(control, order):
        problems.append(f"{order.id}: its terms or requirement changed after the policy "
                        "decided (the keyed terms tag does not match)")
    need = Requirement.from_dict(control.requirement)
    makers = set(control.maker.split(","))
    approving = [a for a in approvals if a.act is ApprovalAct.APPROVE]
    bound = {a.user_id for a in approving if a.is_bound_to(order)}
    if len(bound) < need.approvals:
        problems.append(f"{order.id}: {len(bound)} bound approvals of "
                        f"{need.approvals} required")
    if bound & makers and "maker_approver" in {d.value for d in need.duties}:
        problems.append(f"{order.id}: approved by its maker")
    for approval in approving:
        if need.step_up and approval.step_up_id is None:
            problems.append(f"{order.id}: approval {approval.id} without a step-up")
        if need.token_signature and approval.signature is None:
            problems.append(f"{order.id}: approval {approval.id} without a signature")
    releases = [a for a in approvals if a.act is ApprovalAct.RELEASE]
    if need.release is Release.RELEASER and not releases:
        problems.append(f"{order.id}: released without a releaser")
    return problems
