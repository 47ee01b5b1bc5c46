"""What routes need from the running gateway."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from fastapi import Request

from bankgate.bootstrap import App

__all__ = ["gateway", "today"]

_BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def gateway(request: Request) -> App:
    """The App this API serves."""
    app: App = request.app.state.bankgate
    return app


def today(app: App) -> date:
    """Today on the business calendar (Asia/Shanghai), for execution dates."""
    return app.now().astimezone(_BUSINESS_TZ).date()
