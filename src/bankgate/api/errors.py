"""Every refusal as problem+JSON (RFC 9457) with a stable code and, for input, a JSON pointer."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bankgate.errors import (
    BankgateError,
    ChannelError,
    ConcurrentUpdate,
    DomainError,
    IdempotencyConflict,
    NotFound,
)

__all__ = ["ApiRefusal", "install_error_handlers", "problem", "status_of"]

log = logging.getLogger(__name__)


class ApiRefusal(Exception):
    """A refusal decided at the edge (size, content type, header, JSON syntax)."""

    def __init__(self, status: int, code: str, detail: str, pointer: str | None = None) -> None:
        self.status, self.code, self.detail, self.pointer = status, code, detail, pointer
        super().__init__(detail)


def problem(status: int, code: str, detail: str, pointer: str | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem+JSON response."""
    body: dict[str, Any] = {"type": f"https://bankgate.dev/problems/{code}",
                            "title": HTTPStatus(status).phrase, "status": status,
                            "detail": detail, "code": code}
    if pointer is not None:
        body["pointer"] = pointer
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=headers)


_BY_CODE: dict[str, int] = {
    NotFound.code: 404,
    ConcurrentUpdate.code: 409,  # "conflict": also NotCancellable
    IdempotencyConflict.code: 409,
    "authentication_failed": 401, "replay_refused": 401, "permission_denied": 403,  # issue 5
    "duty_conflict": 403, "signature_invalid": 403, "policy_error": 422,
    "duplicate_invoice": 409,  # issue 7: an invoice already claimed
    "store_unwritable": 503,  # I-06: disk full or read-only; try again once it is fixed
    "store_busy": 503,  # I-03: every store connection in use; nothing done, retry
}


def status_of(exc: BankgateError) -> int:
    """The HTTP status of one of our errors: by code first, then by family."""
    if exc.code in _BY_CODE:
        return _BY_CODE[exc.code]
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ConcurrentUpdate | IdempotencyConflict):
        return 409
    if isinstance(exc, DomainError):
        return 422
    if isinstance(exc, ChannelError):
        return 502
    return 500


def install_error_handlers(api: FastAPI) -> None:
    """Map our errors, validation errors and edge refusals to problem+JSON in one place."""

    @api.exception_handler(ApiRefusal)
    async def _refusal(_: Request, exc: ApiRefusal) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, exc.pointer)

    @api.exception_handler(BankgateError)
    async def _ours(_: Request, exc: BankgateError) -> JSONResponse:
        status = status_of(exc)
        if status == 500:
            log.error("request failed", exc_info=exc)
            return problem(500, "internal_error", "the request could not be completed")
        pointer = None
        if getattr(exc, "field", None):
            where = getattr(exc, "where", "")
            prefix = where if where.startswith("/") else ""
            pointer = f"{prefix.rstrip('/')}/{exc.field}"  # type: ignore[attr-defined]
        return problem(status, exc.code, str(exc), pointer)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        return problem(422, "invalid_input", first.get("msg", "invalid"), "/" + "/".join(loc))

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "http_error", str(exc.detail))

    @api.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected failure", exc_info=exc)
        return problem(500, "internal_error", "the request could not be completed")
