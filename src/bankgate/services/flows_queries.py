"""Reads for the flows' interfaces (CLI, API): claims, transfers, receipts, routes, people.

Interfaces never touch the store; these are the reads they call. Views are plain dicts of
text (amounts as decimal strings, accounts masked), ready for JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from bankgate.domain import Money, currency
from bankgate.domain.claims import Claim, ClaimState
from bankgate.domain.people import User
from bankgate.domain.transfers import Transfer, TransferState
from bankgate.errors import AuthenticationFailed, NotFound
from bankgate.services._tx import UowFactory
from bankgate.services.claims import chain_of
from bankgate.services.users import authenticate_token

__all__ = ["claim_view", "claims", "receipt_view", "receipts_on", "require_user", "route_of",
           "transfer_view", "transfers", "user_of"]


def user_of(*, uow: UowFactory, token: str | None, now: Callable[[], datetime]) -> User | None:
    """The user a session token names (None when no token is given)."""
    if not token:
        return None
    return authenticate_token(uow=uow, token=token, now=now)


def require_user(*, uow: UowFactory, token: str | None, now: Callable[[], datetime]) -> User:
    """The user a session token names; AuthenticationFailed when there is none."""
    user = user_of(uow=uow, token=token, now=now)
    if user is None:
        raise AuthenticationFailed("this action needs a signed-in user (a session token)")
    return user


def claim_view(claim: Claim) -> dict[str, Any]:
    """A claim as JSON-ready text, with its approval chain and where it stands."""
    steps = chain_of(claim)
    return {
        "id": claim.id, "employee_id": claim.employee_id, "title": claim.title,
        "department": claim.department, "state": claim.state.value, "reason": claim.reason,
        "total": f"{claim.total.amount:f}", "currency": claim.total.currency.code,
        "order_id": claim.order_id,
        "lines": [{"line": line.line_no, "category": line.category,
                   "cost_centre": line.cost_centre, "description": line.description,
                   "expense_date": line.expense_date.isoformat(),
                   "amount": f"{line.amount.amount:f}",
                   "invoice": None if line.invoice is None else {
                       "code": line.invoice.code, "number": line.invoice.number,
                       "issued_on": line.invoice.issued_on.isoformat(),
                       "amount": f"{line.invoice.amount.amount:f}",
                       "tax": f"{line.invoice.tax.amount:f}", "seller": line.invoice.seller}}
                  for line in claim.lines],
        "chain": [{"step": s.name, "roles": sorted(s.roles), "why": s.why} for s in steps],
        "approvals": [{"step": a.step, "actor": a.actor, "at": a.at.isoformat(),
                       "approved": a.approved, "note": a.note} for a in claim.approvals],
    }


def claims(*, uow: UowFactory, state: str | None = None, claim_id: str | None = None,
           employee_id: str | None = None) -> list[Claim]:
    """One claim (by id) or claims by state / employee."""
    with uow() as unit:
        if claim_id is not None:
            return [unit.flows.claims.get(claim_id)]
        return unit.flows.claims.query(state=ClaimState(state) if state else None,
                                       employee_id=employee_id)


def transfer_view(item: Transfer) -> dict[str, Any]:
    """A transfer as JSON-ready text."""
    return {"id": item.id, "from": item.source, "to": item.target,
            "amount": f"{item.amount.amount:f}", "currency": item.amount.currency.code,
            "state": item.state.value, "reason": item.reason, "rule": item.rule_id,
            "order_id": item.order_id, "in_reference": item.in_reference,
            "failure": item.failure, "created_at": item.created_at.isoformat()}


def transfers(*, uow: UowFactory, state: str | None = None) -> list[Transfer]:
    """Transfers, oldest first, optionally in one state."""
    with uow() as unit:
        return unit.flows.transfers.query(states=(TransferState(state),) if state else ())


def receipt_view(row: dict[str, Any]) -> dict[str, Any]:
    """A receipt row as JSON-ready text (no document bytes)."""
    amount = Money.from_minor(row["amount_minor"], currency(row["currency"]))
    return {"id": row["id"], "bank": row["bank"], "account_id": row["account_id"],
            "receipt_no": row["receipt_no"], "serial": row["bank_reference"],
            "instruction_id": row["instruction_id"], "order_id": row["order_id"],
            "amount": f"{amount.amount:f}", "currency": row["currency"],
            "booked_at": row["booked_at"].isoformat(), "sha256": row["sha256"],
            "verified": row["verified"], "verification": row["verification"]}


def receipts_on(*, uow: UowFactory, day: date, account_id: str | None = None
                ) -> list[dict[str, Any]]:
    """The receipts booked on `day`."""
    with uow() as unit:
        return unit.flows.receipts.on_day(day, account_id=account_id)


def route_of(*, uow: UowFactory, order_id: str) -> dict[str, Any]:
    """The stored route of an order."""
    with uow() as unit:
        unit.orders.get(order_id)
        found = unit.flows.routes.get(order_id)
    if found is None:
        raise NotFound(f"payment order {order_id} has not been routed")
    return {"order_id": order_id, "rail": found["rail"], "rail_name": found["rail_name"],
            "urgent": found["urgent"], "explanation": found["explanation"],
            "considered": found["considered"], "departs_at": found["departs_at"].isoformat()}
