"""Batches (批量付款) and their orders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from bankgate.api.auth import principal
from bankgate.api.deps import gateway
from bankgate.api.schemas import shown_out
from bankgate.domain import Money, currency
from bankgate.services import queries

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["batches"])


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "bank": row["bank"], "debtor_account": row["debtor_id"],
            "currency": row["currency"], "execution_date": row["execution_date"].isoformat(),
            "state": row["state"], "orders": row["order_count"],
            "total": _total(row), "total_hidden": row["total_hidden"],
            "send_attempts": row["send_attempts"],
            "bank_reference": row["bank_reference"], "note": row["note"],
            "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat()}


def _total(row: dict[str, Any]) -> str | None:
    if row["total_minor"] is None:  # payroll, hidden from this caller (services/visibility)
        return None
    return f"{Money.from_minor(row['total_minor'], currency(row['currency'])).amount:f}"


@router.get("/batches", summary="Batches, newest first")
def list_batches(request: Request, state: str | None = Query(default=None, max_length=20),
                 limit: int = Query(default=100, ge=1, le=500)) -> dict[str, Any]:
    """Batch summaries."""
    found = queries.batches(uow=gateway(request).uow, state=state, limit=limit,
                            permissions=principal(request).permissions)
    return {"batches": [_summary(b) for b in found]}


@router.get("/batches/{batch_id}", summary="One batch with every order's status")
def get_batch(request: Request, batch_id: str) -> dict[str, Any]:
    """The batch and its orders."""
    view = queries.batch(uow=gateway(request).uow, batch_id=batch_id,
                         permissions=principal(request).permissions)
    return {**_summary(view.summary), "payments": [shown_out(o) for o in view.orders]}
