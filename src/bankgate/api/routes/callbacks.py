"""Bank status callbacks (docs/hostapi-protocol.md): signed by the bank, fresh, never replayed;
duplicates and stale ones change nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from bankgate.api.deps import gateway
from bankgate.api.errors import ApiRefusal
from bankgate.errors import CallbackMismatch, ChannelError, SecurityError
from bankgate.services.callbacks import receive_signed_callback
from bankgate.services.crashpoints import crash_point

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["callbacks"])
MAX_CALLBACK_BYTES = 64 * 1024


@router.post("/callbacks/{bank}", summary="A bank's status callback")
async def callback(request: Request, bank: str) -> dict[str, Any]:
    """Apply a callback; every valid one is acknowledged, duplicates included (B-09).

    Unsigned, forged, stale and replayed callbacks are refused with 401 and audited; a signed
    one whose amount or payee account contradicts the order with 409 (B-12).
    """
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise ApiRefusal(413, "payload_too_large", "callback body too large")
    app = gateway(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        applied = await run_in_threadpool(
            receive_signed_callback, uow=app.uow, channels=app.channels, bank=bank,
            headers=dict(request.headers), target=target, body=body, now=app.now)
    except SecurityError as exc:
        failure = getattr(exc, "failure", None)
        raise ApiRefusal(401, failure.value if failure else exc.code, str(exc)) from exc
    except CallbackMismatch as exc:  # B-12: refused, audited and alerted by the service
        raise ApiRefusal(409, exc.code, str(exc)) from exc
    except ChannelError as exc:
        raise ApiRefusal(400, "invalid_callback", str(exc)) from exc
    crash_point("callbacks.after_commit")  # K-10: committed, the bank never hears 2xx
    # ignored: the callback changed nothing (a duplicate of what the order already says, a
    # report behind it, an order we do not know), as docs/api.md promises the bank
    return {"ok": True, "moved": applied.moved,
            "ignored": applied.ignored > 0 or applied.moved == 0}
