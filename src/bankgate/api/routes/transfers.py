"""Internal transfers and sweeps (资金调拨), and each order's route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from bankgate.api.body import read_json
from bankgate.api.deps import gateway, today
from bankgate.api.errors import ApiRefusal
from bankgate.api.flows_deps import actor
from bankgate.domain import currency, parse_amount
from bankgate.errors import ConfigError
from bankgate.services.flows_queries import route_of, transfer_view, transfers
from bankgate.services.transfers import decide_transfer, load_sweep_plan, sweep, transfer

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["transfers"])


@router.post("/transfers", status_code=201, summary="Move money between two of our accounts")
async def post_transfer(request: Request) -> dict[str, Any]:
    """Body `{"from", "to", "amount", "currency"}` (amount a decimal string)."""
    app = gateway(request)
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"from", "to", "amount", "currency", "reason"}:
        raise ApiRefusal(422, "invalid_input", "fields: from, to, amount, currency, reason")
    amount = parse_amount(body.get("amount"), currency(str(body.get("currency", "CNY"))))
    made = await run_in_threadpool(
        transfer, uow=app.uow, source_id=str(body.get("from")), target_id=str(body.get("to")),
        amount=amount, actor=actor(request), now=app.now, today=today(app),
        reason=str(body.get("reason") or "manual transfer"))
    return transfer_view(made)


@router.get("/transfers", summary="Transfers, oldest first")
def list_transfers(request: Request,
                   state: str | None = Query(default=None, max_length=12)) -> dict[str, Any]:
    """Optionally in one state (proposed, ordered, sent, completed, failed, declined)."""
    return {"transfers": [transfer_view(t) for t in transfers(uow=gateway(request).uow,
                                                              state=state)]}


@router.post("/transfers/{transfer_id}/{decision}", summary="Approve or decline a proposal")
async def decide(request: Request, transfer_id: str, decision: str) -> dict[str, Any]:
    """`decision` is approve or decline."""
    if decision not in ("approve", "decline"):
        raise ApiRefusal(404, "not_found", f"no action {decision!r} (approve, decline)")
    app = gateway(request)
    done = await run_in_threadpool(decide_transfer, uow=app.uow, transfer_id=transfer_id,
                                   approve=decision == "approve", actor=actor(request),
                                   now=app.now, today=today(app))
    return transfer_view(done)


@router.post("/sweeps", summary="Evaluate sweep rules on fresh balances")
async def post_sweep(request: Request) -> dict[str, Any]:
    """Body: the rules (`{"header": "...", "rule": [...]}`, as in the TOML file)."""
    app = gateway(request)
    try:
        plan = load_sweep_plan(await read_json(request))
    except ConfigError as exc:
        raise ApiRefusal(422, "invalid_input", str(exc)) from exc
    run = await run_in_threadpool(sweep, uow=app.uow, channels=app.channels, plan=plan,
                                  now=app.now, today=today(app), actor=actor(request))
    return {"outcomes": run.outcomes, "transfers": [transfer_view(t) for t in run.transfers]}


@router.get("/payments/{order_id}/route", summary="How a payment travels, and why")
def get_route(request: Request, order_id: str) -> dict[str, Any]:
    """The rail chosen for the order and the explanation."""
    return route_of(uow=gateway(request).uow, order_id=order_id)
