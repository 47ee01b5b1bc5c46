"""Liveness (the store answers) and the job queue at a glance."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bankgate.api.deps import gateway
from bankgate.api.errors import problem
from bankgate.services import queries

__all__ = ["router"]

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz", summary="The store answers", response_model=None)
def health(request: Request) -> dict[str, Any] | JSONResponse:
    """200 when the store answers, with the job counts; 503 when it does not."""
    try:
        jobs = queries.job_counts(uow=gateway(request).uow)
    except Exception as exc:  # the edge: any failure to reach the store is "not healthy"
        log.error("health check: the store does not answer", exc_info=exc)
        return problem(503, "store_unreachable", "the store does not answer")
    return {"ok": True, "jobs": jobs}


@router.get("/api/v1/jobs/summary", summary="Jobs per state")
def jobs_summary(request: Request) -> dict[str, Any]:
    """How many jobs are queued, running, done or dead."""
    return {"jobs": queries.job_counts(uow=gateway(request).uow)}
