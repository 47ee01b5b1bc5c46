"""`create_app(app)`: the FastAPI application over a built `App`."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from bankgate import __version__
from bankgate.api.auth import authenticate
from bankgate.api.errors import install_error_handlers
from bankgate.api.routes import (
    accounts,
    alerts,
    batches,
    callbacks,
    control,
    flows,
    health,
    payments,
    recon,
)
from bankgate.bootstrap import App
from bankgate.logmask import install_log_masking

__all__ = ["create_app"]


def create_app(app: App) -> FastAPI:
    """The REST API under /api/v1, OpenAPI at /openapi.json."""
    install_log_masking()  # INV-7 (bankgate/logmask.py)
    api = FastAPI(title="bankgate", version=__version__, openapi_url="/openapi.json",
                  description="Bank-enterprise direct connect gateway (银企直联): accounts, "
                              "balances, payment orders with Idempotency-Key, batches, "
                              "bank callbacks.")
    api.state.bankgate = app
    for module in (accounts, payments, batches, callbacks, health, control, recon):
        api.include_router(module.router, dependencies=[Depends(authenticate)])
    api.include_router(flows.router, dependencies=[Depends(authenticate)])  # issue 7
    api.include_router(alerts.router, dependencies=[Depends(authenticate)])  # issue 5
    install_error_handlers(api)
    return api
