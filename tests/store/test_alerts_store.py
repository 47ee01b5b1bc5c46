"""The alerts repository on SQLite, PostgreSQL and MariaDB: raised once, refreshed after,
acknowledged once, one delivery per recipient (issue 5, I-10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bankgate.domain.alerts import AlertLevel, NewAlert
from bankgate.store import UnitOfWork, make_engine

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
EXPIRING = NewAlert(kind="certificate.expiring", subject="certificate icbc client",
                    level=AlertLevel.WARN, message="expires in 20 days",
                    occurrence="2026-12-21")


def test_the_same_alert_raised_twice_is_one_row_refreshed(any_store_url: str) -> None:
    engine = make_engine(any_store_url)
    try:
        with UnitOfWork(engine) as unit:
            first, created = unit.alerts.raise_(EXPIRING, at=AT)
            again, created_again = unit.alerts.raise_(
                NewAlert(kind=EXPIRING.kind, subject=EXPIRING.subject, level=EXPIRING.level,
                         message="expires in 19 days", occurrence=EXPIRING.occurrence),
                at=AT + timedelta(days=1))
            other, other_created = unit.alerts.raise_(
                NewAlert(kind=EXPIRING.kind, subject=EXPIRING.subject,
                         level=AlertLevel.CRITICAL, message="expires in 6 days",
                         occurrence=EXPIRING.occurrence), at=AT + timedelta(days=14))
            unit.commit()
        assert (created, created_again, other_created) == (True, False, True)
        assert again.id == first.id and again.seen_count == 2
        assert again.first_seen == AT and again.last_seen == AT + timedelta(days=1)
        assert again.message == "expires in 19 days" and other.id != first.id
        with UnitOfWork(engine) as unit:
            assert unit.alerts.acknowledge(first.id, by="user:zhang", at=AT) is True
            assert unit.alerts.acknowledge(first.id, by="user:li", at=AT) is False
            for _ in range(2):
                unit.alerts.add_delivery(other.id, channel="webhook",
                                         recipient="https://erp.example/h", at=AT)
            unit.commit()
        with UnitOfWork(engine) as unit:
            assert [a.id for a in unit.alerts.find()] == [other.id]  # critical, open
            assert unit.alerts.get(first.id).acknowledged_by == "user:zhang"
            assert len(unit.alerts.pending_deliveries()) == 1
    finally:
        engine.dispose()
