"""K-15: the outbox relay is killed after the ERP's webhook went out and before it was marked
sent; the next run sends it again with the same event id, which the receiver drops by."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from bankgate.store import UnitOfWork, make_engine
from tests.notify_servers import webhook_server

SECRET = "k15-webhook-secret-0123456789abcdef"
EVENT = "claim:C-K15:paid:3:webhook"


def _notify(url: str, hook: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKGATE_DB_URL": url, "BANKGATE_WEBHOOK_URL": hook,
           "BANKGATE_WEBHOOK_SECRET": SECRET, **extra}
    return subprocess.run([sys.executable, "-m", "bankgate", "claims", "notify"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_K15_a_relay_killed_after_sending_sends_again_with_the_same_event_id(
        sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with UnitOfWork(engine) as unit:
            unit.flows.notifications.add(
                channel="webhook", recipient="erp", subject="", event_id=EVENT,
                body=json.dumps({"event": "claim.paid", "claim_id": "C-K15"}),
                at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
            unit.commit()
    finally:
        engine.dispose()
    with webhook_server() as hook:
        killed = _notify(sqlite_url, hook.url, BANKGATE_TEST_HOOKS="1",
                         BANKGATE_CRASH_AT="notify.after_send")
        assert killed.returncode == -9, killed.stderr  # SIGKILL, for real
        assert len(hook.requests) == 1  # it had gone out
        again = _notify(sqlite_url, hook.url)
        assert again.returncode == 0 and "sent 1" in again.stdout, again.stderr
        once_more = _notify(sqlite_url, hook.url)
        assert "sent 0" in once_more.stdout  # marked now: not sent a third time
    (first, body), (second, body_again) = hook.requests
    assert first["x-bankgate-event"] == second["x-bankgate-event"] == EVENT
    assert body == body_again  # the receiver can drop the second by its event id
