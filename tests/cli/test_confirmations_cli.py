"""`bankgate payments awaiting-confirmation`: the B-19 reminder listing as a person runs it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bankgate.store.tables import payment_orders
from tests.cli.test_cli import bankgate
from tests.control_world import control_world


def test_b19_the_listing_shows_held_orders_oldest_first_and_filters_by_age(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    world = control_world(url, tmp_path)
    old, new, other = world.orders("10.00", "20.00", "30.00")
    with world.app.engine.begin() as conn:  # as the bank's answers leave them (see e2e)
        for order, age in ((old, timedelta(days=3)), (new, timedelta(minutes=5))):
            conn.execute(update(payment_orders).where(
                payment_orders.c.id == order.id).values(
                status="awaiting_bank_confirmation",
                status_changed_at=datetime.now(UTC) - age))
    world.app.close()
    env = {"BANKGATE_DB_URL": url}
    listed = json.loads(bankgate("payments", "awaiting-confirmation", "--json", env=env).stdout)
    rows = listed["awaiting_bank_confirmation"]
    assert [r["order_id"] for r in rows] == [old.id, new.id]
    assert rows[0]["amount"] == "10.00" and rows[0]["bank"] == "icbc"
    aged = bankgate("payments", "awaiting-confirmation", "--older-than-h", "24", env=env)
    assert aged.returncode == 0, aged.stderr
    assert old.id in aged.stdout and new.id not in aged.stdout and other.id not in aged.stdout
    assert "1 order(s) awaiting" in aged.stdout
    bad = bankgate("payments", "awaiting-confirmation", "--older-than-h", "-1", env=env)
    assert bad.returncode == 2
