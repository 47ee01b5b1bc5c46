"""Editing an order before it is released: approvals void, the policy decides again (A-06).

Only the payee, amount, execution date and remittance may change, and only while the order
is a draft, waiting for approval or approved. Every live approval is voided (its hash no
longer matches), an approved order goes back to `pending_approval`, and the policy decides
again with the order marked as edited — which the default policy escalates when the order
came from the ERP or a file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime

from bankgate.domain import CompanyAccount, PaymentOrder, Status
from bankgate.domain.approvals import order_hash
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import DomainError
from bankgate.policy import Facts, evaluate
from bankgate.services._tx import Changes, UowFactory, in_transaction
from bankgate.services.approvals import NotPending, decision_record, route_order
from bankgate.services.intake import InvalidOrderInput, parse_order
from bankgate.services.policies import facts_for, needs_facts, policy_in_force
from bankgate.store import NewJob, UnitOfWork

__all__ = ["EDITABLE", "edit_order"]

EDITABLE = ("payee_name", "payee_account", "payee_bank", "amount", "execution_date",
            "remittance")
_OPEN = (Status.DRAFT, Status.PENDING_APPROVAL, Status.APPROVED)
_FORM_BATCHES = NewJob("form_batches", {}, dedupe_key="form_batches")


def edit_order(*, uow: UowFactory, order_id: str, changes: Mapping[str, object], actor: str,
               now: Callable[[], datetime], today: date) -> PaymentOrder:
    """The order with `changes` applied, its approvals void and a fresh decision."""
    refused = sorted(set(changes) - set(EDITABLE))
    if refused:
        raise InvalidOrderInput("", refused[0], "cannot be changed on an existing order "
                                f"(editable: {', '.join(EDITABLE)})")
    at = now()

    def work(unit: UnitOfWork) -> PaymentOrder:
        order = unit.orders.get(order_id)
        if order.status not in _OPEN:
            raise NotPending(f"payment order {order_id} is {order.status.value}; only orders "
                             "not yet released can be edited (cancel it instead)")
        edited = _apply(unit, order, changes, today)
        return _decide_again(unit, order, edited, actor, at)

    return in_transaction(uow, work)


def _apply(unit: UnitOfWork, order: PaymentOrder, changes: Mapping[str, object],
           today: date) -> PaymentOrder:
    accounts: dict[str, CompanyAccount] = {a.id: a for a in unit.accounts.all()}
    current: dict[str, object] = {
        "debtor_account": order.debtor, "payee_name": order.payee.name,
        "payee_account": order.payee.account.reveal(), "payee_bank": order.payee.bank,
        "amount": f"{order.amount.amount:f}", "currency": order.amount.currency.code,
        "execution_date": order.execution_date.isoformat(), "remittance": order.remittance,
        "flow": order.flow.value}
    merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
    draft = parse_order(merged, where="", accounts=accounts, today=today)
    return replace(order, payee=draft.payee, amount=draft.amount,
                   execution_date=draft.execution_date, remittance=draft.remittance)


def _decide_again(unit: UnitOfWork, before: PaymentOrder, edited: PaymentOrder, actor: str,
                  at: datetime) -> PaymentOrder:
    if order_hash(edited) == order_hash(before) and edited.remittance == before.remittance:
        raise DomainError(f"payment order {before.id}: the edit changes nothing")
    voided = unit.control.void_approvals(before.id, at)
    control = unit.control.control(before.id)
    makers = control.maker.split(",") if control else []
    maker = ",".join(dict.fromkeys([*makers[:1], actor]))
    policy = policy_in_force(unit)
    facts = (facts_for(unit, edited, at=at, edited=True) if needs_facts(policy)
             else Facts(at=at, edited=True))
    decision = evaluate(policy, edited, facts)
    unit.control.put_control(decision_record(before.id, maker, decision, at, edited=True),
                             order=edited, replace=True)
    # the terms are written first (same version), then the moves compare-and-set on it
    bumped = replace(edited, version=before.version + 1)
    unit.control.save_order_terms(bumped, expected_version=before.version)
    unit.audit.append(AuditRecord(
        at=at, actor=actor, action="order.edited", subject_kind="order", subject_id=before.id,
        detail={"fields": _changed(before, edited), "approvals_voided": voided,
                "old_hash": order_hash(before), "new_hash": order_hash(edited)}))
    changes = Changes(at=at, actor=actor)
    current = bumped
    if current.status is Status.APPROVED:
        current = changes.move(current, Status.PENDING_APPROVAL, reason="edited; approvals "
                               "void")
    if current.status is Status.DRAFT:
        route_order(changes, current, decision.requirement, decision.rule)
    elif decision.requirement.approvals == 0:
        current = changes.move(current, Status.APPROVED, rule=decision.rule)
        if decision.is_straight_through:
            changes.move(current, Status.RELEASED, rule=decision.rule)
    changes.flush(unit)
    final = changes.latest(bumped)
    if final.status is Status.RELEASED:
        unit.jobs.enqueue(_FORM_BATCHES, now=at)
    return final


def _changed(before: PaymentOrder, after: PaymentOrder) -> list[str]:
    pairs = {"payee_name": (before.payee.name, after.payee.name),
             "payee_account": (before.payee.account, after.payee.account),
             "payee_bank": (before.payee.bank, after.payee.bank),
             "amount": (before.amount, after.amount),
             "execution_date": (before.execution_date, after.execution_date),
             "remittance": (before.remittance, after.remittance)}
    return [name for name, (old, new) in pairs.items() if old != new]
