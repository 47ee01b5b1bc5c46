"""Internal transfers and cash pooling (资金调拨): both legs followed, sweeps on fresh balances."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bankgate.domain import currency, parse_amount
from bankgate.domain.transfers import TransferState
from bankgate.errors import ConfigError, NotFound
from bankgate.sandbox.run import RunningSandbox
from bankgate.services.transfers import (
    InvalidTransfer,
    decide_transfer,
    follow_transfers,
    load_sweep_plan,
    sweep,
    transfer,
)
from bankgate.services.worker import Worker
from tests.flows_world import OURS, gateway, running_sandbox

TODAY = date.today()
RULES = {"header": "icbc-cny", "rule": [
    {"id": "cmb-pool", "account": "cmb-cny", "target": "200000.00", "sweep_above": "300000.00",
     "execute": True},
    {"id": "boc-pool", "account": "boc-cny", "target": "500000.00", "top_up_below": "400000.00",
     "execute": False}]}


def cny(text: str):
    return parse_amount(text, currency("CNY"))


@pytest.fixture
def sandbox(tmp_path) -> Iterator[RunningSandbox]:
    """A sandbox per test: transfers move the balances the next test would read."""
    with running_sandbox(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
def app(store_url, sandbox):
    with gateway(store_url, sandbox) as application:
        yield application


def follow(app) -> dict[str, int]:
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    try:
        assert worker.run_until_idle(timeout_s=20)
    finally:
        worker.close()
    return follow_transfers(uow=app.uow, channels=app.channels, now=app.now)


def balance(sandbox, bank: str) -> int:
    return sandbox.ledger.balance_minor(bank, OURS[bank])


def test_a_transfer_across_banks_completes_when_both_legs_are_seen(app, sandbox):
    made = transfer(uow=app.uow, source_id="cmb-cny", target_id="icbc-cny",
                    amount=cny("100000.00"), actor="user:treasurer", now=app.now, today=TODAY)
    assert made.state is TransferState.ORDERED
    with app.uow() as unit:
        order = unit.orders.get(made.order_id)
        route = unit.flows.routes.get(order.id)
    assert order.flow.value == "internal_transfer" and order.payee.bank == "icbc"
    assert route["urgent"] is True and route["rail"] in ("hvps", "ibps")
    assert follow(app) == {"completed": 1}
    with app.uow() as unit:
        done = unit.flows.transfers.get(made.id)
    assert done.in_reference and done.in_reference.startswith("ICBC")
    assert balance(sandbox, "cmb") == 70_000_000 and balance(sandbox, "icbc") == 510_000_000


def test_a_sweep_across_banks_sweeps_the_excess_and_proposes_a_top_up(app, sandbox):
    plan = load_sweep_plan(RULES)
    run = sweep(uow=app.uow, channels=app.channels, plan=plan, now=app.now, today=TODAY)
    by_rule = {t.rule_id: t for t in run.transfers}
    assert by_rule["cmb-pool"].state is TransferState.ORDERED
    assert by_rule["cmb-pool"].amount == cny("600000.00")
    assert by_rule["boc-pool"].state is TransferState.PROPOSED
    assert by_rule["boc-pool"].amount == cny("200000.00")
    assert "above 300000.00 CNY" in run.outcomes[0] and run.outcomes[1].startswith(
        "boc-pool: proposed")
    again = sweep(uow=app.uow, channels=app.channels, plan=plan, now=app.now, today=TODAY)
    assert again.transfers == [] and all("on its way" in o for o in again.outcomes)
    assert follow(app) == {"completed": 1}
    decide_transfer(uow=app.uow, transfer_id=by_rule["boc-pool"].id, approve=True,
                    actor="user:treasurer", now=app.now, today=TODAY)
    assert follow(app) == {"completed": 1}
    assert (balance(sandbox, "cmb"), balance(sandbox, "boc")) == (20_000_000, 50_000_000)
    settled = sweep(uow=app.uow, channels=app.channels, plan=plan, now=app.now, today=TODAY)
    assert settled.transfers == [] and all("within its bounds" in o for o in settled.outcomes)


def test_a_sweep_never_moves_on_a_balance_it_could_not_fetch_now(app, sandbox):
    sandbox.set_faults("cmb", error_rate=1.0)
    run = sweep(uow=app.uow, channels=app.channels, plan=load_sweep_plan(RULES), now=app.now,
                today=TODAY)
    assert run.outcomes[0].startswith("cmb-pool: no fresh balance for cmb-cny")
    assert [t.rule_id for t in run.transfers] == ["boc-pool"]


def test_a_declined_proposal_moves_nothing(app, sandbox):
    run = sweep(uow=app.uow, channels=app.channels, plan=load_sweep_plan(RULES), now=app.now,
                today=TODAY)
    proposal = next(t for t in run.transfers if t.state is TransferState.PROPOSED)
    declined = decide_transfer(uow=app.uow, transfer_id=proposal.id, approve=False,
                               actor="user:treasurer", now=app.now, today=TODAY)
    assert declined.state is TransferState.DECLINED and declined.order_id is None
    with pytest.raises(InvalidTransfer, match="is declined, not proposed"):
        decide_transfer(uow=app.uow, transfer_id=proposal.id, approve=True, actor="user:t",
                        now=app.now, today=TODAY)


def test_a_transfer_the_target_bank_returns_fails_with_its_reason(app, sandbox):
    sandbox.ledger.close_account("boc", OURS["boc"])
    made = transfer(uow=app.uow, source_id="icbc-cny", target_id="boc-cny",
                    amount=cny("1000.00"), actor="user:treasurer", now=app.now, today=TODAY)
    assert follow(app) == {"failed": 1}
    with app.uow() as unit:
        failed = unit.flows.transfers.get(made.id)
    assert failed.failure.startswith("AC04") and balance(sandbox, "icbc") == 500_000_000


@pytest.mark.parametrize(("source", "target", "amount", "error", "message"), [
    ("icbc-cny", "icbc-cny", "1.00", InvalidTransfer, "icbc-cny was given twice"),
    ("icbc-cny", "cmb-cny", "0.00", InvalidTransfer, "must be greater than zero"),
    ("icbc-cny", "nope-cny", "1.00", NotFound, "account 'nope-cny' does not exist"),
])
def test_a_transfer_that_cannot_be_made_is_refused_and_stores_nothing(
        app, source, target, amount, error, message):
    with pytest.raises(error, match=message):
        transfer(uow=app.uow, source_id=source, target_id=target, amount=cny(amount),
                 actor="user:t", now=app.now, today=TODAY)
    with app.uow() as unit:
        assert unit.flows.transfers.query() == [] and unit.orders.count_by_status() == {}


@pytest.mark.parametrize(("rules", "message"), [
    ({"rule": RULES["rule"]}, "needs header"),
    ({**RULES, "rule": [{**RULES["rule"][0], "account": "icbc-cny"}]},
     "the header account icbc-cny cannot have a rule"),
    ({**RULES, "rule": [{**RULES["rule"][0], "top_up_below": "250000.00"}]},
     "needs top_up_below ≤ target ≤ sweep_above"),
    ({**RULES, "rule": [{**RULES["rule"][0], "colour": "red"}]}, "unknown key colour"),
    ({**RULES, "rule": [{**RULES["rule"][0], "target": "200,000"}]},
     "rule[0].target: '200,000' is not a plain decimal"),
    ({**RULES, "rule": [{"id": "x", "account": "cmb-cny"}]}, "needs id, account and target"),
])
def test_bad_sweep_rules_are_refused_naming_the_rule(rules, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_sweep_plan(rules)


def test_sweep_rules_are_read_from_a_toml_file(tmp_path: Path):
    path = tmp_path / "pool.toml"
    path.write_text('header = "icbc-cny"\n[[rule]]\nid = "cmb"\naccount = "cmb-cny"\n'
                    'target = "1.00"\nsweep_above = "2.00"\nexecute = true\n', encoding="utf-8")
    plan = load_sweep_plan(path)
    assert plan.header == "icbc-cny" and plan.rules[0].execute
    path.write_text("header = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the sweep rules"):
        load_sweep_plan(path)
