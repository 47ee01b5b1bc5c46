"""The demo's alert (issue 5, I-10): a client certificate that expires in 20 days is watched,
and one run of the expiry watch raises a warn alert well before payments would stop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bankgate.bootstrap import App
from bankgate.crypto.pki import TestPki, Usage, issue_certificate
from bankgate.services.alerts import alert_view, list_alerts
from bankgate.services.expiry_job import run_expiry_job

__all__ = ["alerts_story", "watch_config"]


def watch_config(pki: TestPki) -> dict[str, Any]:
    """A `[security]` table watching a demo certificate that expires in 20 days."""
    now = datetime.now(UTC)
    cert, _ = issue_certificate(pki, "icbc-client-renew-soon", usage=Usage.CLIENT,
                                not_before=now - timedelta(days=345),
                                not_after=now + timedelta(days=20, hours=1))
    return {"warn_days": 30, "critical_days": 7,
            "certificate": [{"name": "icbc client (demo)", "path": str(cert)}]}


def alerts_story(app: App, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Run the watch once (as the worker does daily) and tell the open alerts."""
    outcome = run_expiry_job(uow=app.uow, config=app.security, now=app.now)
    found = [alert_view(a) for a in list_alerts(uow=app.uow)]
    say(f"\n11. Alerts 告警 (expiry watch: {outcome})")
    for alert in found:
        say(f"   {alert['level'].upper()} {alert['kind']}: {alert['message']}")
    return found
