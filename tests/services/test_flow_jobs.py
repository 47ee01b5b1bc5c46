"""The flows' recurring jobs (issue 7): claims paid at the cut-off, receipts, following."""

from __future__ import annotations

import time as wall
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest

from bankgate.bootstrap import build_app
from bankgate.domain.claims import ClaimState
from bankgate.errors import ConfigError
from bankgate.sandbox.run import RunningSandbox
from bankgate.services.claim_payments import BUSINESS_TZ, next_cutoff
from bankgate.services.flow_jobs import (
    CUTOFF,
    FOLLOW,
    RECEIPTS,
    flow_jobs_config,
    schedule_flow_jobs,
)
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from tests.flows_world import gateway_config, running_sandbox
from tests.services.test_claims import a_line, approve_all, register, submit

LEAD_S = 4  # the cut-off is this far ahead when the test starts


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
def cutoff() -> time:
    soon = datetime.now(BUSINESS_TZ) + timedelta(seconds=LEAD_S)
    if soon.date() != datetime.now(BUSINESS_TZ).date():
        pytest.skip("the cut-off would fall on the next Shanghai day")
    return soon.time().replace(microsecond=0)


@pytest.fixture
def app(store_url, sandbox, cutoff):
    config = {**gateway_config(sandbox), "flows": {
        "claims_debtor": "icbc-cny", "claim_cutoffs": [cutoff.isoformat()],
        "receipts": "0 8 * * *", "follow_every_s": 600}}
    application = build_app(Settings(db_url=store_url), config)
    try:
        register(application, "E001")
        yield application
    finally:
        application.close()


def _jobs(app, kind):
    with app.uow() as unit:
        return [j for j in unit.jobs.list(limit=1000) if j["kind"] == kind]


def _idle(app) -> None:
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    try:
        assert worker.run_until_idle(timeout_s=30)
    finally:
        worker.close()


def test_the_worker_pays_approved_claims_at_the_cut_off_without_any_call(app, cutoff):
    claim = approve_all(app, submit(app, a_line()))
    assert claim.state is ClaimState.APPROVED
    assert schedule_flow_jobs(uow=app.uow, config=app.flow_jobs, now=app.now) == 3
    assert schedule_flow_jobs(uow=app.uow, config=app.flow_jobs, now=app.now) == 3  # no-op
    _idle(app)  # before the cut-off: nothing is due, the claim waits
    with app.uow() as unit:
        assert unit.flows.claims.get(claim.id).state is ClaimState.APPROVED
    wall.sleep(LEAD_S + 1)
    _idle(app)  # the cut-off job pays; the status poll's moves make the follow run at once
    with app.uow() as unit:
        paid = unit.flows.claims.get(claim.id)
        order = unit.orders.get(paid.order_id)
    assert paid.state is ClaimState.PAID and order.status.value == "settled"
    assert order.amount.amount == claim.total.amount and order.flow.value == "reimbursement"
    cutoffs = sorted(_jobs(app, CUTOFF), key=lambda j: j["id"])
    assert [j["state"] for j in cutoffs] == ["done", "queued"]  # and the next one waits
    assert cutoffs[1]["run_after"] - cutoffs[0]["updated_at"] > timedelta(hours=23)
    assert [j["state"] for j in _jobs(app, FOLLOW)].count("done") >= 1


def test_the_receipts_and_follow_jobs_wait_for_their_times(app):
    at = app.now()
    schedule_flow_jobs(uow=app.uow, config=app.flow_jobs, now=app.now)
    [receipts] = _jobs(app, RECEIPTS)
    fires = receipts["run_after"].astimezone(BUSINESS_TZ)
    assert (fires.hour, fires.minute) == (8, 0) and timedelta(0) < fires - at <= timedelta(1)
    [follow] = _jobs(app, FOLLOW)
    assert timedelta(seconds=590) < follow["run_after"].replace(tzinfo=at.tzinfo) - at


def test_the_next_cut_off_is_the_first_shanghai_cut_off_after_now():
    at = datetime(2026, 12, 1, 2, 30, tzinfo=BUSINESS_TZ).astimezone(BUSINESS_TZ)
    cutoffs = (time(10), time(15))
    assert next_cutoff(at, cutoffs) == datetime(2026, 12, 1, 10, tzinfo=BUSINESS_TZ)
    late = datetime(2026, 12, 1, 15, 0, tzinfo=BUSINESS_TZ)
    assert next_cutoff(late, cutoffs) == datetime(2026, 12, 2, 10, tzinfo=BUSINESS_TZ)


@pytest.mark.parametrize(("raw", "message"), [
    ({"claim_cutoffs": ["25:00"]}, "flows.claim_cutoffs"),
    ({"receipts": "every day"}, "flows.receipts: 'every day' is not a cron expression"),
    ({"follow_every_s": 0}, "flows.follow_every_s"),
    ({"receipts_days_back": "1"}, "flows.receipts_days_back"),
    ({"cutoff": "10:00"}, "flows: unknown key 'cutoff'"),
])
def test_a_bad_flows_section_is_refused_naming_the_key(raw, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        flow_jobs_config(raw)
