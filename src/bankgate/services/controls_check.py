"""INV-4 checker: every order past `released` holds the controls its decision required.

For each such order: a stored decision; enough live approvals from distinct people, each
bound to the order's *current* canonical hash, none by a maker, none by someone who holds
the payee account; a step-up behind each where the decision asked for one, each time step
used once; a token signature where required; a release record where a releaser was needed.
Returns the problems found (empty: the invariant holds). Used by tests and `bankgate policy
check`.
"""

from __future__ import annotations

from bankgate.domain.approvals import ApprovalAct
from bankgate.policy import Release, Requirement
from bankgate.services._tx import UowFactory

__all__ = ["check_controls"]


def check_controls(*, uow: UowFactory) -> list[str]:
    """Every violation of INV-4 in the store, one line each."""
    problems: list[str] = []
    with uow() as unit:
        ids = unit.control.released_order_ids()
        for order in unit.orders.get_many(ids):
            control = unit.control.control(order.id)
            if control is None:
                problems.append(f"{order.id}: released without a policy decision")
                continue
            need = Requirement.from_dict(control.requirement)
            approvals = unit.control.approvals_for(order.id)
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
