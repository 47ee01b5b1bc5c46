"""Our accounts and their balances, across every bank."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bankgate.api.deps import gateway
from bankgate.services.accounts import list_accounts
from bankgate.services.cash import fetch_balances, totals_by_currency

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/accounts", summary="Our accounts (numbers masked)")
def accounts(request: Request) -> dict[str, Any]:
    """Every company account."""
    return {"accounts": [{"id": a.id, "bank": a.bank, "number": str(a.number),
                          "currency": a.currency.code, "name": a.name, "purpose": a.purpose}
                         for a in list_accounts(uow=gateway(request).uow)]}


@router.get("/balances", summary="Cash in every bank, now")
def balances(request: Request) -> dict[str, Any]:
    """Balances fetched from each bank's channel; a bank that fails is named, not hidden."""
    app = gateway(request)
    cash = fetch_balances(uow=app.uow, channels=app.channels, now=app.now)
    return {"balances": [{"account_id": c.account.id, "bank": c.account.bank,
                          "account": str(c.account.number), "currency": c.account.currency.code,
                          "ledger": f"{c.ledger.amount:f}" if c.ledger else None,
                          "available": f"{c.available.amount:f}" if c.available else None,
                          "as_of": c.as_of.isoformat() if c.as_of else None, "error": c.error}
                         for c in cash],
            "totals": {code: f"{m.amount:f}" for code, m in totals_by_currency(cash).items()}}
