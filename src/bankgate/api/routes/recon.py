"""Reconciliation (对账): match rate and exceptions, the manual queue, a person's decisions."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bankgate.api.auth import principal
from bankgate.api.body import read_json, validate
from bankgate.api.deps import gateway
from bankgate.services.recon import confirm, match_by_hand, reconcile, unmatch
from bankgate.services.recon_summary import manual_queue, recon_summary, summary_document

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/recon", tags=["reconciliation"])


class _Decision(BaseModel):
    """A person's decision; who decided is the authenticated caller, never the body."""

    model_config = ConfigDict(extra="forbid")


class _Unmatch(_Decision):
    reason: str = Field(min_length=1, max_length=200)


class _Manual(_Decision):
    entries: list[int] = Field(min_length=1, max_length=100)
    items: list[str] = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=200)


@router.get("/summary", summary="Match rate (%), exceptions and their age, books vs bank")
def summary(request: Request, account: str | None = Query(None, max_length=40),
            on: date | None = Query(None, alias="date")) -> dict[str, Any]:
    """What reconciliation settled and what it could not, oldest exception first."""
    app = gateway(request)
    found = recon_summary(uow=app.uow, now=app.now, zone=app.finance.sync.zone,
                          account_id=account, on=on)
    return summary_document(found)


@router.post("/runs", summary="Run the matcher now")
def run(request: Request, account: str | None = Query(None, max_length=40),
        on: date | None = Query(None, alias="date")) -> dict[str, Any]:
    """Match what is open; safe to repeat (a second run finds nothing new)."""
    app = gateway(request)
    done = reconcile(uow=app.uow, config=app.finance.recon, now=app.now, account_id=account,
                     on=on, actor=principal(request).actor)
    return {"entries": done.lines, "items": done.items, "confirmed": done.confirmed,
            "suggested": done.suggested}


@router.get("/queue", summary="Suggestions waiting for a person (待人工确认)")
def queue(request: Request, account: str | None = Query(None, max_length=40)) -> dict[str, Any]:
    """Ranked candidates per unmatched entry."""
    found = manual_queue(uow=gateway(request).uow, account_id=account)
    return {"suggestions": [{"match_id": s.match_id, "account_id": s.account_id,
                             "entries": list(s.entry_ids), "items": list(s.item_ids),
                             "rank": s.rank, "confidence": s.confidence, "rule": s.rule,
                             "explanation": s.explanation} for s in found]}


@router.post("/matches/{match_id}/confirm", summary="Confirm a suggestion")
async def confirm_match(request: Request, match_id: str) -> dict[str, Any]:
    """404 unknown, 409 when it is no longer a suggestion or its entries were matched."""
    body = validate(_Decision, await read_json(request))
    assert isinstance(body, _Decision)
    app = gateway(request)
    number = await run_in_threadpool(lambda: confirm(uow=app.uow, match_id=match_id,
                                                     actor=principal(request).actor, now=app.now))
    return {"match_id": match_id, "state": "confirmed", "voucher": number}


@router.post("/matches/{match_id}/unmatch", summary="Undo a confirmed match")
async def unmatch_match(request: Request, match_id: str) -> dict[str, Any]:
    """The entries are free again and the voucher reversed; 409 when not confirmed."""
    body = validate(_Unmatch, await read_json(request))
    assert isinstance(body, _Unmatch)
    app = gateway(request)
    number = await run_in_threadpool(lambda: unmatch(
        uow=app.uow, match_id=match_id, actor=principal(request).actor, reason=body.reason,
        now=app.now))
    return {"match_id": match_id, "state": "undone", "reversal_voucher": number}


@router.post("/matches", status_code=201, summary="Match entries to items by hand")
async def manual_match(request: Request) -> dict[str, Any]:
    """409 when an entry is already matched (so a repeated request books nothing twice)."""
    body = validate(_Manual, await read_json(request))
    assert isinstance(body, _Manual)
    app = gateway(request)
    match_id, number = await run_in_threadpool(lambda: match_by_hand(
        uow=app.uow, entry_ids=body.entries, item_ids=body.items, actor=principal(request).actor,
        note=body.note, now=app.now))
    return {"match_id": match_id, "state": "confirmed", "voucher": number}
