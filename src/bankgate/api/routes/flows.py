"""The flows' routers (issue 7) as one, so that the app registers them with one line."""

from __future__ import annotations

from fastapi import APIRouter

from bankgate.api.routes import claims, payroll, receipts, transfers

__all__ = ["router"]

router = APIRouter()
for _module in (claims, payroll, transfers, receipts):
    router.include_router(_module.router)
