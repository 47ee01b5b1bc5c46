"""B-19: bank-side second confirmation (网银二次确认), end to end with the real sandbox.

The policy requires a bank confirmation; the dispatch asks the bank to hold the orders; they
wait in `awaiting_bank_confirmation` through any number of polls until the customer confirms
or refuses them in the sandbox bank's portal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bankgate.bootstrap import App, build_app
from bankgate.domain import Status
from bankgate.services.confirmations import awaiting_confirmation
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from tests.e2e.harness import check_invariants, gateway_config, orders_of, wait_for
from tests.e2e.test_payment_spine import _create, _sound

POLICY = """schema = 1
name = "confirm-at-the-bank"

[unmatched]
approvals = 0
bank_confirmation = true
"""


@pytest.fixture
def confirming(store_url: str, sandbox: Any, world: Any, tmp_path: Path) -> Iterator[App]:
    config = gateway_config(sandbox, world, confirmation_remind_s=0.0)
    policy = tmp_path / "confirm.toml"
    policy.write_text(POLICY, encoding="utf-8")
    config["policy"] = str(policy)
    app = build_app(Settings(db_url=store_url), config)
    yield app
    app.close()


def _work_until(app: App, done: Any, what: str, timeout_s: float = 20) -> None:
    worker = Worker(app.job_context(), concurrency=2, lease_s=5)
    try:
        def check() -> bool:
            worker.run_once()
            return bool(done())
        wait_for(check, timeout_s, what)
    finally:
        worker.close()


def _statuses(app: App) -> dict[str, Status]:
    return {o.instruction_id: o.status for o in orders_of(app)}


def test_b19_orders_wait_for_the_portal_then_settle_or_are_rejected_with_its_reason(
        confirming, sandbox, payees, caplog):
    """B-19: held at the bank; polls never time them out; confirm settles, refuse rejects."""
    _create(confirming, _sound(payees, "icbc")[:3], 3)
    _work_until(confirming, lambda: set(_statuses(confirming).values())
                == {Status.AWAITING_BANK_CONFIRMATION}, "every order held at the bank")
    held = [o.line.instruction_id for o in sandbox.awaiting_confirmation("icbc")]
    assert sorted(held) == sorted(_statuses(confirming))
    assert not sandbox.ledger.debit_bookings(), "nothing may be debited before confirmation"

    with caplog.at_level(logging.WARNING, logger="bankgate.services.status"):
        worker = Worker(confirming.job_context(), concurrency=2, lease_s=5)
        try:
            until = time.monotonic() + 2.0  # several poll rounds: never failed or unknown
            while time.monotonic() < until:
                worker.run_once()
                time.sleep(0.05)
        finally:
            worker.close()
    assert set(_statuses(confirming).values()) == {Status.AWAITING_BANK_CONFIRMATION}
    assert any("second confirmation" in r.getMessage() for r in caplog.records)
    listed = awaiting_confirmation(uow=confirming.uow, now=confirming.now)
    assert sorted(i.instruction_id for i in listed) == sorted(held)
    assert awaiting_confirmation(uow=confirming.uow, now=confirming.now,
                                 older_than_s=3600) == []

    first, second, third = held
    sandbox.confirm_in_portal("icbc", first)
    sandbox.refuse_in_portal("icbc", second, "not a payment we know")
    _work_until(confirming, lambda: _statuses(confirming)[first] is Status.SETTLED
                and _statuses(confirming)[second] is Status.REJECTED,
                "the confirmed order settled and the refused one rejected")
    by_id = {o.instruction_id: o for o in orders_of(confirming)}
    assert by_id[second].reason_code == "CUST"
    assert "not a payment we know" in (by_id[second].reason or "")
    assert by_id[third].status is Status.AWAITING_BANK_CONFIRMATION
    check_invariants(confirming, sandbox)

    sandbox.confirm_in_portal("icbc", third)
    _work_until(confirming, lambda: _statuses(confirming)[third] is Status.SETTLED,
                "the last order settled after its confirmation")
    assert sandbox.ledger.debit_bookings() == {first: 1, third: 1}
    check_invariants(confirming, sandbox)


def test_b19_a_channel_that_cannot_hold_orders_sends_nothing(confirming, sandbox, payees):
    """B-19: the policy asks for a bank confirmation; cmb's front-end channel cannot: unsent."""
    _create(confirming, _sound(payees, "cmb")[:2], 2)
    worker = Worker(confirming.job_context(), concurrency=2, lease_s=5)
    try:
        for _ in range(5):
            worker.run_once()
    finally:
        worker.close()
    assert set(_statuses(confirming).values()) == {Status.RELEASED}
    assert not sandbox.ledger.debit_bookings()
    assert not sandbox.awaiting_confirmation("cmb")
