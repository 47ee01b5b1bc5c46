"""Alerts and the expiry watch as a recurring job (issue 5): I-10 (an alert well before a
certificate expires), A-10 (a locked TOTP factor raises an alert), INV-7 (masked subjects)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankgate.domain.alerts import AlertLevel
from bankgate.errors import ConcurrentUpdate, ConfigError, NotFound, PermissionDenied
from bankgate.services.alerts import acknowledge_alert, new_alert, raise_alert_now
from bankgate.services.expiry_job import KIND, security_config
from bankgate.services.users import create_user, record_step_up_failure
from tests.control_world import control_world
from tests.services.alerts_world import *  # noqa: F403  (the fixture)


def _key(alerts):
    return sorted((a.kind, a.subject, a.level.value) for a in alerts)


def test_i10_the_worker_runs_the_watch_and_raises_a_warn_20_days_ahead_and_a_critical_3_days_ahead(
        make_world) -> None:
    world = make_world()
    worker = world.run_worker()
    assert worker.stats.done == 2  # the watch, then the delivery job it queued
    assert _key(world.alerts()) == [("certificate.expiring", "certificate icbc client", "warn"),
                                    ("token.pin_expiring", "token ukey-icbc", "critical")]
    cert = next(a for a in world.alerts() if a.kind == "certificate.expiring")
    assert "expires on" in cert.message and "(in 20 days)" in cert.message
    assert world.audit(cert) == ["alert.raised"]
    with world.app.uow() as unit:
        waiting = [j for j in unit.jobs.list(limit=100) if j["kind"] == KIND
                   and j["state"] == "queued"]
    assert len(waiting) == 1  # the next daily run
    assert (waiting[0]["run_after"] - world.clock()).total_seconds() == pytest.approx(86400)


def test_i10_a_second_daily_run_refreshes_the_alerts_instead_of_adding_copies(
        make_world) -> None:
    world = make_world()
    world.run_worker()
    first = {a.id: a for a in world.alerts()}
    world.next_day()
    world.run_worker()
    again = {a.id: a for a in world.alerts()}
    assert again.keys() == first.keys()
    for alert_id, alert in again.items():
        assert alert.seen_count == 2 and alert.first_seen == first[alert_id].first_seen
        assert alert.last_seen == world.clock()
        assert world.audit(alert) == ["alert.raised"]  # raised once, refreshed since


def test_i10_the_certificate_alert_escalates_to_critical_at_7_days_and_when_expired(
        make_world) -> None:
    world = make_world()
    world.run_worker()
    world.next_day(14)  # 6 days left
    world.run_worker()
    world.next_day(7)  # expired a day ago
    world.run_worker()
    cert = [a for a in world.alerts(include_acknowledged=True)
            if a.subject == "certificate icbc client"]
    assert _key(cert) == [("certificate.expired", "certificate icbc client", "critical"),
                          ("certificate.expiring", "certificate icbc client", "critical"),
                          ("certificate.expiring", "certificate icbc client", "warn")]
    [expired] = [a for a in world.alerts() if a.subject == "certificate icbc client"]
    assert expired.kind == "certificate.expired"  # what it replaced is closed, and says so
    warn, soon = sorted((a for a in cert if a.kind == "certificate.expiring"),
                        key=lambda a: a.id)
    assert warn.acknowledged_by == f"system:expiry-watch (superseded by {soon.id})"
    assert soon.acknowledged_by == f"system:expiry-watch (superseded by {expired.id})"
    assert world.audit(warn) == ["alert.raised", "alert.superseded"]
    assert expired.message.startswith("EXPIRED certificate icbc client: expired on")
    assert "stopped" in expired.message
    assert world.alerts()[0].level is AlertLevel.CRITICAL  # critical ones are listed first


def test_an_acknowledged_alert_stays_acknowledged_on_the_next_run_and_a_second_ack_is_refused(
        make_world) -> None:
    world = make_world()
    world.run_worker()
    admin = create_user(uow=world.app.uow, username="zhang", display_name="Zhang",
                        roles=["treasurer_admin"], password="correct horse battery",
                        actor="test:admin", now=world.clock)
    cert = next(a for a in world.alerts() if a.kind == "certificate.expiring")
    done = acknowledge_alert(uow=world.app.uow, alert_id=cert.id, by=admin, now=world.clock)
    assert done.acknowledged_by == "user:zhang" and done.acknowledged_at == world.clock()
    assert world.audit(cert) == ["alert.raised", "alert.acknowledged"]
    with pytest.raises(ConcurrentUpdate, match=rf"alert {cert.id} was already acknowledged "
                                               "by user:zhang"):
        acknowledge_alert(uow=world.app.uow, alert_id=cert.id, by=admin, now=world.clock)
    world.next_day()
    world.run_worker()
    assert cert.id not in {a.id for a in world.alerts()}  # still acknowledged: not open
    refreshed = next(a for a in world.alerts(include_acknowledged=True) if a.id == cert.id)
    assert refreshed.seen_count == 2 and refreshed.acknowledged_by == "user:zhang"


def test_only_a_treasury_admin_acknowledges_and_an_unknown_alert_is_named(
        make_world) -> None:
    world = make_world()
    world.run_worker()
    maker = create_user(uow=world.app.uow, username="li", display_name="Li", roles=["maker"],
                        password="correct horse battery", actor="test:admin", now=world.clock)
    alert = world.alerts()[0]
    with pytest.raises(PermissionDenied, match="user:li may not acknowledge alerts"):
        acknowledge_alert(uow=world.app.uow, alert_id=alert.id, by=maker, now=world.clock)
    admin = create_user(uow=world.app.uow, username="zhang", display_name="Zhang",
                        roles=["treasurer_admin"], password="correct horse battery",
                        actor="test:admin", now=world.clock)
    with pytest.raises(NotFound, match="no alert 9999"):
        acknowledge_alert(uow=world.app.uow, alert_id=9999, by=admin, now=world.clock)
    assert world.alerts()[0].acknowledged_at is None


def test_a_watch_that_cannot_be_read_is_itself_a_critical_alert(
        make_world) -> None:
    world = make_world()
    (world.pki_dir / "icbc-client.pem").unlink()  # the certificate file is gone
    world.run_worker()
    [broken] = world.alerts()
    assert (broken.kind, broken.level) == ("security.watch_failed", AlertLevel.CRITICAL)
    assert "icbc-client.pem: not a readable PEM certificate" in broken.message


def test_inv7_account_numbers_in_an_alert_are_masked(make_world) -> None:
    world = make_world()
    alert = raise_alert_now(uow=world.app.uow, now=world.clock, new=new_alert(
        "credential.expired", "icbc account 6222020200001000001", AlertLevel.CRITICAL,
        "statements of 6222020200001000001 stopped"))
    assert "6222020200001000001" not in alert.subject + alert.message
    assert "0001" in alert.subject  # the last four digits stay, as everywhere


def test_a10_five_wrong_totp_codes_lock_the_factor_and_raise_a_critical_alert(
        store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    world = control_world(store_url, tmp_path)
    request.addfinalizer(world.app.close)
    alice = world.person("alice", "approver")
    locked = [record_step_up_failure(uow=world.app.uow, user=alice.user, at=world.clock(),
                                     reason="wrong code") for _ in range(5)]
    assert locked == [False, False, False, False, True]
    with world.app.uow() as unit:
        [alert] = unit.alerts.find()
    assert (alert.kind, alert.subject, alert.level) == ("totp.locked", "user alice",
                                                        AlertLevel.CRITICAL)
    assert "5 wrong codes" in alert.message and "bankgate users reset-totp alice" in alert.message
    with world.app.uow() as unit:
        audited = [r["action"] for r in unit.audit.for_subject(str(alert.id))
                   if r["subject_kind"] == "alert"]
    assert audited == ["alert.raised"]


@pytest.mark.parametrize(("table", "message"), [
    ({"colour": "red"}, "security: unknown key 'colour'"),
    ({"expiry_cron": "every day"}, "security.expiry_cron: 'every day' is not a cron"),
    ({"critical_days": -1}, "security.critical_days: -1 is not a whole number"),
    ({"expiry_every_s": 5}, "security.expiry_every_s: 5 is not a number of seconds"),
    ({"alert_webhook_url": "https://erp.example/hook"}, "set BANKGATE_WEBHOOK_SECRET"),
    ({"alert_mail_to": "ops"}, "security.alert_mail_to: 'ops' is not a list of addresses"),
])
def test_a_bad_security_table_is_refused_naming_the_key(table: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        security_config(table, base=Path.cwd(), env={})
