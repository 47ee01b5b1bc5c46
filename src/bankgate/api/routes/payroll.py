"""Payroll (代发工资): upload a file (once per content), see each employee's bank status."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bankgate.api.body import read_json
from bankgate.api.deps import gateway, today
from bankgate.api.errors import ApiRefusal
from bankgate.api.flows_deps import actor, roles
from bankgate.domain import AccountNumber
from bankgate.formats.payroll import MAX_PAYROLL_BYTES, InvalidPayrollFile
from bankgate.services.payroll import import_payroll, payroll_report, reissue_line

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["payroll"])
_KINDS: Final = ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "application/octet-stream")


@router.post("/payroll", status_code=201, summary="Import a payroll file (CSV or .xlsx)")
async def post_payroll(request: Request) -> JSONResponse:
    """All or nothing, once per content: the same file again answers 200 with the first run."""
    app = gateway(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _KINDS:
        raise ApiRefusal(415, "unsupported_media_type", f"send one of {', '.join(_KINDS)}")
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > MAX_PAYROLL_BYTES:
            raise ApiRefusal(413, "payload_too_large", f"over {MAX_PAYROLL_BYTES} bytes")
    name = request.headers.get("x-file-name", "payroll upload")[:120]
    try:
        done = await run_in_threadpool(import_payroll, uow=app.uow, channels=app.channels,
                                       content=bytes(content), origin=name,
                                       actor=actor(request),
                                       now=app.now, today=today(app))
    except InvalidPayrollFile as exc:  # a file, not JSON: the message names row and field
        raise ApiRefusal(422, exc.code, str(exc)) from exc
    report = await run_in_threadpool(payroll_report, uow=app.uow, run_id=done.run.id,
                                     roles=roles(request))
    return JSONResponse(_report(report), status_code=201 if done.created else 200)


@router.get("/payroll/{run_id}", summary="A payroll run with every employee's bank status")
def get_payroll(request: Request, run_id: str) -> dict[str, Any]:
    """Amounts only for a signed-in user with the payroll role."""
    return _report(payroll_report(uow=gateway(request).uow, run_id=run_id,
                                  roles=roles(request)))


@router.post("/payroll/{run_id}/lines/{employee_id}/reissue",
             summary="Pay a rejected, returned or unverified line again")
async def reissue(request: Request, run_id: str, employee_id: str) -> dict[str, Any]:
    """Optional body `{"name", "account", "bank"}` with the corrected details."""
    app = gateway(request)
    fixes = await read_json(request) if await request.body() else {}
    if not isinstance(fixes, dict) or set(fixes) - {"name", "account", "bank"}:
        raise ApiRefusal(422, "invalid_input", "fields: name, account, bank only")
    account = AccountNumber.parse(fixes["account"]) if "account" in fixes else None
    line = await run_in_threadpool(reissue_line, uow=app.uow, channels=app.channels,
                                   run_id=run_id, employee_id=employee_id, actor=actor(request),
                                   now=app.now, today=today(app), name=fixes.get("name"),
                                   account=account, bank=fixes.get("bank"))
    return {"employee_id": line.employee_id, "state": line.state.value, "reason": line.reason,
            "order_id": line.order_id, "attempts": line.attempts}


def _report(report: Any) -> dict[str, Any]:
    run = report.run
    return {"id": run.id, "origin": run.origin, "period": run.period, "debtor": run.debtor,
            "lines": run.line_count, "total": report.total, "currency": run.total.currency.code,
            "counts": report.counts(),
            "employees": [{"employee_id": v.employee_id, "name": v.name, "account": v.account,
                           "bank": v.bank, "amount": v.amount, "status": v.status.value,
                           "reason": v.reason, "order_id": v.order_id, "attempts": v.attempts}
                          for v in report.lines]}
