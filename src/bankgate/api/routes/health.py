"""Liveness and the job queue at a glance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bankgate.api.deps import gateway
from bankgate.services import queries

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The store answers")
def health(request: Request) -> dict[str, Any]:
    """OK when the store answers; with the job counts."""
    return {"ok": True, "jobs": queries.job_counts(uow=gateway(request).uow)}
