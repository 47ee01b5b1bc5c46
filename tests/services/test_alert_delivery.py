"""Alerts go out through the configured channels (issue 5, I-10): a signed webhook received by
a real local HTTP server and mail through a real SMTP server, once per alert, retried after a
failure."""

from __future__ import annotations

import json
import time

import pytest

from bankgate.notify.webhook import verify
from bankgate.services.alerts import deliver_alerts
from bankgate.services.expiry_job import run_expiry_job
from tests.notify_servers import smtp_server, webhook_server
from tests.services.alerts_world import *  # noqa: F403  (the fixture)

SECRET = "alert-webhook-secret-0123456789"


def _headers_verify(headers: dict[str, str], body: bytes) -> bool:
    return verify(SECRET.encode(), timestamp=headers["x-bankgate-timestamp"],
                  signature=headers["x-bankgate-signature"], body=body, now=time.time())


def test_i10_each_new_alert_reaches_the_webhook_signed_and_a_refresh_sends_nothing(
        make_world, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKGATE_WEBHOOK_SECRET", SECRET)
    with webhook_server() as sink:
        world = make_world(alert_webhook_url=sink.url)
        world.run_worker()
        assert len(sink.requests) == 2
        for headers, body in sink.requests:
            assert _headers_verify(headers, body)
            assert headers["x-bankgate-event"].startswith("alert:")
        sent = {json.loads(body)["alert"]["kind"]: json.loads(body)["alert"]
                for _, body in sink.requests}
        assert sent["certificate.expiring"]["level"] == "warn"
        assert sent["certificate.expiring"]["subject"] == "certificate icbc client"
        assert sent["token.pin_expiring"]["level"] == "critical"
        world.next_day()
        world.run_worker()
        assert len(sink.requests) == 2  # the same alerts, refreshed: nothing sent again
        world.next_day(13)  # the certificate has 6 days left (escalated), the PIN expired
        world.run_worker()
        later = sorted((a["kind"], a["level"]) for a in
                       (json.loads(body)["alert"] for _, body in sink.requests[2:]))
        assert later == [("certificate.expiring", "critical"), ("token.pin_expired", "critical")]


def test_a_failed_delivery_stays_pending_and_is_sent_on_the_next_attempt(
        make_world, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKGATE_WEBHOOK_SECRET", SECRET)
    with webhook_server() as sink:
        sink.status = 503
        world = make_world(alert_webhook_url=sink.url)
        channels = world.app.security.alerts
        run_expiry_job(uow=world.app.uow, config=world.app.security, now=world.clock)
        assert deliver_alerts(uow=world.app.uow, channels=channels, now=world.clock) == {
            "sent": 0, "failed": 2}
        with world.app.uow() as unit:
            pending = unit.alerts.pending_deliveries()
        assert [d["attempts"] for d in pending] == [1, 1]
        assert "HTTP 503" in pending[0]["last_error"]
        sink.status = 200
        assert deliver_alerts(uow=world.app.uow, channels=channels, now=world.clock) == {
            "sent": 2, "failed": 0}
        assert deliver_alerts(uow=world.app.uow, channels=channels, now=world.clock) == {
            "sent": 0, "failed": 0}
        assert len(sink.requests) == 4  # two refused, two accepted, none after


def test_alerts_are_mailed_to_each_address_through_the_smtp_server(
        make_world, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server() as mail:
        monkeypatch.setenv("BANKGATE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("BANKGATE_SMTP_PORT", str(mail.port))
        world = make_world(alert_mail_to=["treasury@example.com", "ops@example.com"])
        world.run_worker()
        deadline = time.monotonic() + 5
        while len(mail.messages) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert sorted(m["To"] for m in mail.messages) == ["ops@example.com", "ops@example.com",
                                                      "treasury@example.com",
                                                      "treasury@example.com"]
    subjects = {m["Subject"] for m in mail.messages}
    assert "[bankgate] WARN certificate.expiring: certificate icbc client" in subjects
    body = next(m for m in mail.messages if "WARN" in m["Subject"]).get_content()
    assert "bankgate alerts ack" in body
