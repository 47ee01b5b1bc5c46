"""A gateway whose `[security]` table watches a certificate, a token PIN and a credential,
with a clock the test moves (issue 5, I-10)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bankgate.bootstrap import App, build_app
from bankgate.crypto.pki import Usage, issue_certificate, issue_test_pki
from bankgate.domain.alerts import Alert
from bankgate.services.alerts import list_alerts
from bankgate.services.expiry_job import schedule_expiry
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from tests.builders import NOW
from tests.control_world import Clock

#: What `from tests.services.alerts_world import *` brings: the fixture.
__all__ = ["make_world"]

DAY = timedelta(days=1)


@dataclass
class AlertsWorld:
    """The app, its clock, and where the watched certificate lives."""

    app: App
    clock: Clock
    pki_dir: Path

    def run_worker(self) -> Worker:
        """Queue the watch as `bankgate worker` does, then run jobs until idle."""
        schedule_expiry(uow=self.app.uow, config=self.app.security, now=self.app.now)
        worker = Worker(self.app.job_context(), concurrency=1)
        try:
            assert worker.run_until_idle(timeout_s=30) is True
        finally:
            worker.close()
        return worker

    def next_day(self, days: int = 1) -> None:
        """Move the clock on; the waiting watch becomes due (it runs daily)."""
        self.clock.tick(days * 86400)

    def alerts(self, *, include_acknowledged: bool = False) -> list[Alert]:
        return list_alerts(uow=self.app.uow, include_acknowledged=include_acknowledged)

    def audit(self, alert: Alert) -> list[str]:
        """The actions audited on one alert."""
        with self.app.uow() as unit:
            return [r["action"] for r in unit.audit.for_subject(str(alert.id))
                    if r["subject_kind"] == "alert"]


def security_table(pki_dir: Path, *, cert_days: float = 20, pin_days: int = 3,
                   **extra: Any) -> dict[str, Any]:
    """A certificate valid `cert_days` more days, a token PIN due in `pin_days`, a credential
    far away."""
    pki = issue_test_pki(pki_dir)
    issue_certificate(pki, "icbc-client", usage=Usage.CLIENT, not_before=NOW - 300 * DAY,
                      not_after=NOW + timedelta(days=cert_days))
    return {"warn_days": 30, "critical_days": 7,
            "certificate": [{"name": "icbc client", "path": str(pki_dir / "icbc-client.pem")}],
            "token": [{"label": "ukey-icbc", "pin_max_age_days": 180,
                       "pin_changed_on": (NOW + (pin_days - 180) * DAY).date()}],
            "credential": [{"bank": "icbc", "name": "host API password",
                            "expires_on": (NOW + 200 * DAY).date()}],
            **extra}


def alerts_world(store_url: str, tmp_path: Path, **table: Any) -> AlertsWorld:
    """The world over `store_url`."""
    pki_dir = tmp_path / "pki"
    app = build_app(Settings(db_url=store_url), {"security": security_table(pki_dir, **table)})
    clock = Clock(NOW)
    app.now = clock
    return AlertsWorld(app, clock, pki_dir)


@pytest.fixture
def make_world(store_url: str, tmp_path: Path) -> Iterator[Callable[..., AlertsWorld]]:
    """`make_world(**security_table_options)`; every app made is closed afterwards."""
    made: list[AlertsWorld] = []

    def make(**table: Any) -> AlertsWorld:
        made.append(alerts_world(store_url, tmp_path, **table))
        return made[-1]

    yield make
    for world in made:
        world.app.close()
