"""Electronic receipts (电子回单): fetch, list a day's, download one or a day's zip, missing."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from bankgate.api.deps import gateway
from bankgate.services.flows_queries import receipt_view, receipts_on
from bankgate.services.receipts import (
    day_archive,
    fetch_receipts,
    missing_receipts,
    receipt_document,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["receipts"])


@router.post("/receipts/fetch", summary="Fetch a day's receipts from every bank")
def fetch(request: Request, day: date = Query(alias="date")) -> dict[str, Any]:
    """Receipts already held are not stored again."""
    app = gateway(request)
    done = fetch_receipts(uow=app.uow, channels=app.channels, on=day, now=app.now)
    return {"fetched": done.fetched, "new": done.new, "verified": done.verified,
            "linked": done.linked, "problems": done.problems}


@router.get("/receipts", summary="The receipts booked on a day")
def list_receipts(request: Request, day: date = Query(alias="date"),
                  account_id: str | None = Query(default=None, max_length=40)
                  ) -> dict[str, Any]:
    """By account and receipt number."""
    rows = receipts_on(uow=gateway(request).uow, day=day, account_id=account_id)
    return {"receipts": [receipt_view(r) for r in rows]}


@router.get("/receipts/archive", summary="A day's receipts as one zip with a manifest")
def archive(request: Request, day: date = Query(alias="date"),
            account_id: str | None = Query(default=None, max_length=40)) -> Response:
    """PDFs by account, and manifest.csv with what each proves and its SHA-256."""
    content = day_archive(uow=gateway(request).uow, day=day, account_id=account_id)
    return Response(content, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="receipts-{day.isoformat()}.zip"'})


@router.get("/receipts/missing", summary="Settled payments still without a receipt")
def missing(request: Request, days: int = Query(default=2, ge=0, le=365)) -> dict[str, Any]:
    """After `days` days."""
    app = gateway(request)
    rows = missing_receipts(uow=app.uow, now=app.now, channels=app.channels, days=days)
    return {"days": days, "payments": [{"order_id": r["id"], "debtor": r["debtor_id"],
                                        "settled_at": r["status_changed_at"].isoformat()}
                                       for r in rows]}


@router.get("/receipts/{receipt_id}.pdf", summary="One receipt's PDF")
def document(request: Request, receipt_id: str) -> Response:
    """Checked against its stored SHA-256 before it is handed out."""
    name, content = receipt_document(uow=gateway(request).uow, receipt_id=receipt_id)
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
