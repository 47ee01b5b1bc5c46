"""I-09: execution dates are days of the banks' calendar (Asia/Shanghai), not of UTC: at
00:00:01 in Shanghai (16:00:01 UTC the day before) yesterday is in the past, and at
23:59:59 in Shanghai today is still today."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.conftest import a_payment


def _post(client, day: str, key: str):
    return client.post("/api/v1/payments", json=a_payment(execution_date=day),
                       headers={"Idempotency-Key": key})


def test_I09_execution_dates_are_shanghai_days_at_both_edges_of_midnight(client, gateway):
    gateway.now = lambda: datetime(2026, 11, 30, 16, 0, 1, tzinfo=UTC)  # 1 Dec 00:00:01 CST
    late = _post(client, "2026-11-30", "i09-a")
    assert late.status_code == 422
    assert "2026-11-30 is in the past (today is 2026-12-01)" in late.json()["detail"]
    assert _post(client, "2026-12-01", "i09-b").status_code == 201
    gateway.now = lambda: datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)  # 30 Nov 23:59:59 CST
    assert _post(client, "2026-11-30", "i09-c").status_code == 201
    with gateway.uow() as unit:
        days = sorted(str(o.execution_date) for o in unit.orders.list(limit=10))
    assert days == ["2026-11-30", "2026-12-01"]
