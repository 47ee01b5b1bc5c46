"""Payment orders: create (Idempotency-Key), list, read with history, cancel."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bankgate.api.auth import principal
from bankgate.api.body import (
    idempotency_key,
    optional_idempotency_key,
    read_json,
    request_hash,
    validate,
)
from bankgate.api.deps import gateway, today
from bankgate.api.schemas import PaymentIn, PaymentsIn, order_out, shown_out
from bankgate.bootstrap import App
from bankgate.domain import CompanyAccount, FlowType, IllegalTransition, PaymentOrder, Status
from bankgate.errors import ConcurrentUpdate, PermissionDenied
from bankgate.services import queries
from bankgate.services.accounts import list_accounts
from bankgate.services.crashpoints import crash_point
from bankgate.services.intake import InvalidOrderInput, OrderDraft, parse_order
from bankgate.services.payments import (
    Created,
    NotCancellable,
    cancel_order,
    create_orders_once,
)
from bankgate.services.visibility import shown

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["payments"])
_SCOPE = "api"
_PAYROLL_CREATE = "payroll:create"
_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "oneOf": [PaymentIn.model_json_schema(), PaymentsIn.model_json_schema()]}}}}}


@router.post("/payments", status_code=201, openapi_extra=_BODY_DOC,
             summary="Create one payment order, or several all-or-nothing")
async def create_payments(request: Request) -> Response:
    """Create orders once per Idempotency-Key; a replay returns the stored answer (K-01, K-02)."""
    app = gateway(request)
    key = idempotency_key(request)
    document = await read_json(request)
    digest = request_hash(document)
    created = await run_in_threadpool(queries.earlier_answer, uow=app.uow, scope=_SCOPE, key=key,
                                      request_hash=digest)
    if created is None:
        caller = principal(request)
        created = await run_in_threadpool(_create, app, key, digest, document, caller.actor,
                                          caller.permissions)
        crash_point("api.after_commit")
    headers = {"Idempotency-Replayed": "true"} if created.replayed else {}
    return Response(created.body, status_code=created.status_code,
                    media_type="application/json", headers=headers)


def _create(app: App, key: str, digest: str, document: Any, actor: str,
            permissions: Collection[str]) -> Created:
    """Check the body strictly, then create its orders once under the key.

    A payroll order (`flow: payroll`) needs `payroll:create`: its amount is hidden from
    everyone without the payroll role, so a maker must not file an ordinary payment under it.
    """
    many = isinstance(document, dict) and "payments" in document
    validate(PaymentsIn if many else PaymentIn, document)
    items: list[dict[str, Any]] = document["payments"] if many else [document]
    accounts: dict[str, CompanyAccount] = {a.id: a for a in list_accounts(uow=app.uow)}
    drafts = [_draft(item, f"/payments/{i}" if many else "", accounts, today(app))
              for i, item in enumerate(items)]
    for i, draft in enumerate(drafts):
        if draft.flow is FlowType.PAYROLL and _PAYROLL_CREATE not in permissions:
            where = f"/payments/{i}/flow" if many else "/flow"
            raise PermissionDenied(f"{where}: payroll orders need the payroll role "
                                   f"({_PAYROLL_CREATE}); use the payroll import")

    def render(orders: list[PaymentOrder]) -> tuple[int, str]:
        shown = [order_out(o) for o in orders]
        return 201, json.dumps({"payments": shown} if many else shown[0], ensure_ascii=False)

    return create_orders_once(uow=app.uow, drafts=drafts, actor=actor, now=app.now,
                              source="api", scope=_SCOPE, key=key, request_hash=digest,
                              render=render)


def _draft(item: dict[str, Any], where: str, accounts: Mapping[str, CompanyAccount],
           day: date) -> OrderDraft:
    debtor = item.get("debtor_account")
    if debtor not in accounts:  # never echo what may be a full account number (INV-7)
        raise InvalidOrderInput(where, "debtor_account", "is not the id of one of our accounts "
                                "(GET /api/v1/accounts lists them)")
    return parse_order({k: v for k, v in item.items() if v is not None}, where=where,
                       accounts=accounts, today=day)


@router.get("/payments", summary="List payment orders, newest first")
def list_payments(request: Request, status: Status | None = None,
                  batch_id: str | None = Query(default=None, max_length=40),
                  limit: int = Query(default=100, ge=1, le=500),
                  offset: int = Query(default=0, ge=0)) -> dict[str, Any]:
    """Orders filtered by status or batch."""
    found = queries.orders(uow=gateway(request).uow, status=status.value if status else None,
                           batch_id=batch_id, limit=limit, offset=offset,
                           permissions=principal(request).permissions)
    return {"payments": [shown_out(o) for o in found], "limit": limit, "offset": offset}


@router.get("/payments/{order_id}", summary="One payment order with its history")
def get_payment(request: Request, order_id: str) -> dict[str, Any]:
    """The order and every transition it went through (from the audit log)."""
    view = queries.order(uow=gateway(request).uow, order_id=order_id,
                         permissions=principal(request).permissions)
    history = [{"at": h["at"].isoformat(), "actor": h["actor"], "from": h["from_status"],
                "to": h["to_status"], "reason": h["detail"].get("reason"),
                "bank_code": h["detail"].get("bank_code")} for h in view.history]
    return {**shown_out(view.order), "history": history}


@router.post("/payments/{order_id}/cancel", summary="Cancel an order not yet batched")
def cancel_payment(request: Request, order_id: str) -> JSONResponse:
    """Cancel; 409 when the order has gone too far (Idempotency-Key optional)."""
    app = gateway(request)
    key = optional_idempotency_key(request)
    try:
        order = cancel_order(uow=app.uow, order_id=order_id, actor=principal(request).actor,
                             now=app.now)
    except (IllegalTransition, ConcurrentUpdate) as exc:
        current = queries.order(uow=app.uow, order_id=order_id,
                                permissions=principal(request).permissions).order
        if key is not None and current.order.status is Status.CANCELLED:
            # a retry of a cancel that took effect: the same answer again
            return JSONResponse(shown_out(current), headers={"Idempotency-Replayed": "true"})
        raise NotCancellable(f"payment order {order_id} is {current.order.status.value} and can "
                             "no longer be cancelled") from exc
    return JSONResponse(shown_out(shown(order, principal(request).permissions)))
