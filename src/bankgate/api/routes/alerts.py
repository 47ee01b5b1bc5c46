"""Alerts (告警, issue 5): what will stop payments or syncs, or has; a treasurer acknowledges."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from bankgate.api.auth import principal
from bankgate.api.deps import gateway
from bankgate.errors import PermissionDenied
from bankgate.services.alerts import acknowledge_alert, alert_view, list_alerts

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", summary="Open alerts, critical first (acknowledged ones too with all=true)")
def alerts(request: Request, include_all: bool = Query(False, alias="all")) -> dict[str, Any]:
    """Subjects and messages have account numbers masked."""
    found = list_alerts(uow=gateway(request).uow, include_acknowledged=include_all)
    return {"alerts": [alert_view(a) for a in found]}


@router.post("/{alert_id}/ack", summary="Acknowledge an alert (treasurer_admin)")
async def ack(request: Request, alert_id: int) -> dict[str, Any]:
    """404 unknown, 409 already acknowledged; who acknowledged is the signed-in person."""
    who = principal(request)
    if who.user is None:
        raise PermissionDenied(f"{who.actor}: alerts are acknowledged by a person, not a key")
    user = who.user
    app = gateway(request)
    done = await run_in_threadpool(lambda: acknowledge_alert(uow=app.uow, alert_id=alert_id,
                                                             by=user, now=app.now))
    return alert_view(done)
