"""Claims (报销) and employees: submit with Idempotency-Key, read, approve, pay, follow."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from bankgate.api.body import idempotency_key, read_json, request_hash
from bankgate.api.deps import gateway, today
from bankgate.api.errors import ApiRefusal
from bankgate.api.flows_deps import actor, signed_in
from bankgate.services.claim_payments import follow_claims, pay_approved_claims
from bankgate.services.claims import (
    Approver,
    approve_claim,
    register_employee,
    submit_claim_once,
)
from bankgate.services.flows_queries import claim_view, claims
from bankgate.services.receipts import receipts_for_claim

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["claims"])


@router.post("/employees", summary="Register or update an employee and their account")
async def put_employee(request: Request) -> dict[str, Any]:
    """A changed account must be verified again before it is paid."""
    app = gateway(request)
    document = await read_json(request)
    if not isinstance(document, dict):
        raise ApiRefusal(422, "invalid_input", "the body must be an employee object")
    employee = await run_in_threadpool(register_employee, uow=app.uow, data=document,
                                       now=app.now)
    return {"id": employee.id, "name": employee.name, "department": employee.department,
            "account": str(employee.account), "bank": employee.bank,
            "verified_at": employee.verified_at}


@router.post("/claims", status_code=201, summary="Submit a claim with its invoices, once")
async def post_claim(request: Request) -> Response:
    """Body: the claim, and `attachments: [{name, content_base64}]`; Idempotency-Key."""
    app = gateway(request)
    key = idempotency_key(request)
    document = await read_json(request)
    if not isinstance(document, dict):
        raise ApiRefusal(422, "invalid_input", "the body must be a claim object")
    data = {k: v for k, v in document.items() if k != "attachments"}
    files = _attachments(document.get("attachments", []))
    created = await run_in_threadpool(
        submit_claim_once, uow=app.uow, data=data, attachments=files, actor=actor(request),
        now=app.now, today=today(app), scope="api-claims", key=key,
        request_hash=request_hash(document),
        render=lambda claim: json.dumps(claim_view(claim), ensure_ascii=False))
    headers = {"Idempotency-Replayed": "true"} if created.replayed else {}
    return Response(created.body, status_code=created.status_code,
                    media_type="application/json", headers=headers)


def _attachments(items: Any) -> list[tuple[str, bytes]]:
    if not isinstance(items, list):
        raise ApiRefusal(422, "invalid_input", "attachments: expected a list", "/attachments")
    found = []
    for i, item in enumerate(items):
        where = f"/attachments/{i}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ApiRefusal(422, "invalid_input", f"{where}: needs name and content_base64",
                             where)
        try:
            content = base64.b64decode(str(item.get("content_base64", "")), validate=True)
        except binascii.Error as exc:
            raise ApiRefusal(422, "invalid_input", f"{where}/content_base64: not base64",
                             f"{where}/content_base64") from exc
        found.append((item["name"], content))
    return found


@router.get("/claims", summary="Claims by state or employee")
def list_claims(request: Request, state: str | None = Query(default=None, max_length=24),
                employee_id: str | None = Query(default=None, max_length=40)
                ) -> dict[str, Any]:
    """Oldest first."""
    found = claims(uow=gateway(request).uow, state=state, employee_id=employee_id)
    return {"claims": [claim_view(c) for c in found]}


@router.get("/claims/{claim_id}", summary="One claim with its chain, approvals and receipts")
def get_claim(request: Request, claim_id: str) -> dict[str, Any]:
    """Where the claim stands; the receipts of the payment that paid it."""
    app = gateway(request)
    [claim] = claims(uow=app.uow, claim_id=claim_id)
    shown = receipts_for_claim(uow=app.uow, claim_id=claim_id)
    return {**claim_view(claim), "receipts": [r["id"] for r in shown]}


@router.post("/claims/{claim_id}/approve", summary="Decide the claim's next step")
async def approve(request: Request, claim_id: str) -> dict[str, Any]:
    """Body `{"approved": true|false, "note": "..."}`; the signed-in user decides."""
    app = gateway(request)
    user = signed_in(request)
    document = await read_json(request)
    if not isinstance(document, dict) or not isinstance(document.get("approved"), bool):
        raise ApiRefusal(422, "invalid_input", "approved: expected true or false", "/approved")
    note = document.get("note", "")
    if not isinstance(note, str) or len(note) > 200:
        raise ApiRefusal(422, "invalid_input", "note: text of at most 200 characters", "/note")
    claim = await run_in_threadpool(
        approve_claim, uow=app.uow, claim_id=claim_id, approved=document["approved"],
        note=note, now=app.now, approver=Approver(user.actor, frozenset(user.roles)))
    return claim_view(claim)


@router.post("/claims/pay", summary="Pay every claim approved before the last cut-off")
def pay(request: Request, debtor_account: str = Query(max_length=40)) -> dict[str, Any]:
    """Run the cut-off now; then follow the claims already paying."""
    app = gateway(request)
    run = pay_approved_claims(uow=app.uow, channels=app.channels, debtor_id=debtor_account,
                              now=app.now, today=today(app))
    moved = follow_claims(uow=app.uow, now=app.now)
    return {"cutoff": run.cutoff.isoformat(), "paying": [c.id for c in run.paying],
            "blocked": [{"id": c.id, "reason": c.reason} for c in run.blocked],
            "waiting": run.waiting, "followed": moved}
