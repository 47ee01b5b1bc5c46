"""The payment spine end to end: real sandbox banks, real store, real worker processes.

Every scenario ends with the checker (INV-1, INV-2, INV-3, INV-5 audit path) against the
sandbox banks' own ledgers. Crash points are real SIGKILLs (RELIABILITY.md 2.1).
"""

from __future__ import annotations

import json
import signal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bankgate.domain import TERMINAL, Status
from bankgate.services.intake import parse_order
from bankgate.services.payments import create_orders
from bankgate.services.worker import Worker
from tests.e2e.harness import check_invariants, finish, orders_of, wait_for, worker_process


def _create(app, payees: list[dict[str, Any]], count: int):
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    by_bank = {a.bank: a.id for a in accounts.values()}
    drafts = []
    for index, payee in enumerate(payees[:count]):
        debtor = by_bank.get(payee["bank"]) or sorted(accounts)[index % len(accounts)]
        drafts.append(parse_order({
            "debtor_account": debtor, "payee_name": payee["name"],
            "payee_account": payee["account"], "payee_bank": payee["bank"],
            "amount": str(payee["amount"]), "currency": "CNY"},
            where=f"payee {index}", accounts=accounts, today=app.now().date()))
    return create_orders(uow=app.uow, drafts=drafts, actor="test", now=app.now, source="e2e")


def _sound(payees: list[dict[str, Any]], bank: str) -> list[dict[str, Any]]:
    """Payees at one bank whose payments the bank will accept."""
    return [p for p in payees if p["bank"] == bank and not p.get("rigged")]


def _run_worker_until_final(app, timeout_s: float = 30) -> None:
    worker = Worker(app.job_context(), concurrency=2, lease_s=5)
    try:
        def final() -> bool:
            worker.run_once()
            return all(o.status in TERMINAL for o in orders_of(app))
        wait_for(final, timeout_s, "every order to reach the bank's final word")
    finally:
        worker.close()


def test_payments_reach_the_banks_final_word_each_booked_once(gateway, sandbox, payees):
    """B-08: a batch partly accepted; rejected lines carry the bank's reason; none lost."""
    created = _create(gateway, payees, 60)
    _run_worker_until_final(gateway)
    orders = orders_of(gateway)
    assert len(orders) == len(created)
    statuses = {o.status for o in orders}
    assert Status.SETTLED in statuses
    failed = [o for o in orders if o.status in (Status.REJECTED, Status.RETURNED)]
    assert failed, "the demo world rigs some payees to fail for real reasons"
    assert all(o.reason_code for o in failed), [(o.id, o.reason) for o in failed]
    check_invariants(gateway, sandbox, orders)


@pytest.mark.slow
def test_K05_released_orders_wait_in_the_outbox_for_a_worker_started_later(
        gateway, sandbox, payees, store_url, config_file):
    """K-05: the release commits with its job; a worker process started later picks it up."""
    _create(gateway, payees, 10)
    with gateway.uow() as unit:
        assert unit.jobs.pending("form_batches") == 1
    assert finish(worker_process(store_url, config_file)) == 0
    assert all(o.status in TERMINAL for o in orders_of(gateway))
    check_invariants(gateway, sandbox)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["dispatch.after_mark_sending", "dispatch.after_response",
                                   "status.after_query"])
def test_a_worker_killed_at_a_crash_point_leaves_every_payment_booked_once(
        gateway, sandbox, payees, store_url, config_file, point):
    """K-06, K-08, K-09: SIGKILL at the point, restart, every payment ends once at the bank."""
    _create(gateway, payees, 20)
    assert finish(worker_process(store_url, config_file, crash_at=point)) == -signal.SIGKILL
    assert finish(worker_process(store_url, config_file)) == 0
    orders = orders_of(gateway)
    assert all(o.status in TERMINAL for o in orders), {o.status for o in orders}
    check_invariants(gateway, sandbox, orders)


@pytest.mark.slow
def test_K07_worker_killed_after_the_bank_booked_but_before_the_answer_arrived(
        gateway, sandbox, payees, store_url, config_file):
    """K-07: the request reached the bank and was booked; the worker dies waiting for the answer."""
    sandbox.set_faults(bank=None, script=[{"op": "submit", "fault": "sleep_after_accept"}],
                       sleep_after_accept_s=30)
    created = _create(gateway, _sound(payees, "icbc"), 5)
    worker = worker_process(store_url, config_file, until_idle=False)
    wait_for(lambda: all(sandbox.ledger.debit_bookings().get(o.instruction_id, 0) == 1
                         for o in created), 20, "the bank to book")
    worker.kill()
    finish(worker)
    assert finish(worker_process(store_url, config_file)) == 0
    orders = orders_of(gateway)
    assert all(o.status in TERMINAL for o in orders)
    with gateway.uow() as unit:
        history = [h["to_status"] for h in unit.audit.for_subject(orders[0].id)]
    assert "unknown" in history, "the interrupted send must go through unknown, then a query"
    check_invariants(gateway, sandbox, orders)


@pytest.mark.parametrize(("fault", "through_unknown"), [
    ("drop_after_accept", True),      # B-02
    ("sleep_after_accept", True),     # B-01 (beyond the client's read timeout)
    ("error_after_booking", True),    # B-03
    ("busy", False),                  # B-04: 503 before booking, then success
    ("forged_answer", True),          # B-15: booked, answer signed by an impostor
    ("unsigned_answer", True),        # B-15: booked, answer without a signature
])
def test_bank_faults_on_submit_resolve_to_the_banks_real_status_booked_once(
        gateway, sandbox, payees, fault, through_unknown):
    """B-01…B-04, B-15: lost, failed or forged answers never book twice; unknown is
    resolved by a (verified) status query, never by a resend."""
    sandbox.set_faults(bank=None, script=[{"op": "submit", "fault": fault}],
                       sleep_after_accept_s=4)
    created = _create(gateway, _sound(payees, "icbc"), 3)
    _run_worker_until_final(gateway)
    orders = orders_of(gateway)
    with gateway.uow() as unit:
        history = [h["to_status"] for h in unit.audit.for_subject(created[0].id)]
    assert ("unknown" in history) is through_unknown, history
    check_invariants(gateway, sandbox, orders)


def test_INV2_B14_a_bank_whose_status_queries_fail_for_long_is_still_followed_and_alerted(
        gateway, sandbox, payees):
    """INV-2, B-14: the bank accepts the batch, then refuses 30 status queries in a row. Each
    failed poll queues the next round with a longer back-off (it used to retry the same
    round at the same rate until the job died of its attempts, leaving the orders unfollowed);
    from the fifth failure in a row a critical alert says so (one per bank, seen again on
    each later failure); when the bank answers again, every order reaches its final word, no
    job is dead."""
    sandbox.set_faults(bank=None, script=[{"op": "status", "fault": "busy"}] * 30)
    _create(gateway, _sound(payees, "icbc"), 3)
    _run_worker_until_final(gateway, timeout_s=60)
    with gateway.uow() as unit:
        polls = [j for j in unit.jobs.list(limit=500) if j["kind"] == "poll_status"]
        counts = unit.jobs.counts()
    rounds = [json.loads(j["payload"])["round"] if isinstance(j["payload"], str)
              else j["payload"]["round"] for j in polls]
    assert counts.get("dead", 0) == 0
    assert max(rounds) >= 5, rounds  # the failed polls moved the rounds (and the back-off) on
    assert all(j["attempts"] <= 2 for j in polls)
    check_invariants(gateway, sandbox, orders_of(gateway))
    with gateway.uow() as unit:
        [alert] = [a for a in unit.alerts.find() if a.kind == "payment.status_unreachable"]
    assert (alert.subject, alert.level.value) == ("bank icbc status queries", "critical")
    assert alert.seen_count >= 2 and "3 open orders keep their status" in alert.message


def test_B14_a_few_failed_status_queries_raise_no_alert(gateway, sandbox, payees):
    """Below `poll_alert_after` (5) failures in a row, a bank that is briefly busy is
    followed quietly; the count starts again after an answer."""
    sandbox.set_faults(bank=None, script=[{"op": "status", "fault": "busy"}] * 3)
    _create(gateway, _sound(payees, "icbc"), 2)
    _run_worker_until_final(gateway, timeout_s=30)
    check_invariants(gateway, sandbox, orders_of(gateway))
    with gateway.uow() as unit:
        assert [a.kind for a in unit.alerts.find()] == []


def test_A14_an_order_changed_in_the_database_after_its_decision_is_never_sent(
        gateway, sandbox, payees):
    """A-14: someone with write access to the database raises a released order's amount
    threefold. Dispatch recomputes the keyed terms tag, refuses that order (cancelled,
    reason CONTROLS, an `order.controls_failed` audit record and a critical alert) and
    sends the others; the bank never books the changed order."""
    from sqlalchemy import update

    from bankgate.store.tables import payment_orders

    created = _create(gateway, _sound(payees, "icbc"), 3)
    assert all(o.status is Status.RELEASED for o in created)
    target = created[0]
    with gateway.engine.begin() as conn:
        conn.execute(update(payment_orders).where(payment_orders.c.id == target.id)
                     .values(amount_minor=payment_orders.c.amount_minor * 3))
    _run_worker_until_final(gateway)
    orders = {o.id: o for o in orders_of(gateway)}
    assert orders[target.id].status is Status.CANCELLED
    assert orders[target.id].reason_code == "CONTROLS"
    assert all(orders[o.id].status is Status.SETTLED for o in created[1:])
    assert sandbox.ledger.debit_bookings().get(target.instruction_id, 0) == 0
    with gateway.uow() as unit:
        actions = [h["action"] for h in unit.audit.for_subject(target.id)]
        alerts = [a for a in unit.alerts.find() if a.kind == "payment.controls_failed"]
    assert "order.controls_failed" in actions
    assert len(alerts) == 1 and "terms or requirement changed" in alerts[0].message
    check_invariants(gateway, sandbox, list(orders.values()))


def test_balances_after_the_run_match_the_banks_ledgers(gateway, sandbox, payees):
    """INV-3: after sync our balances equal the sandbox's."""
    from bankgate.services.cash import fetch_balances

    _create(gateway, payees, 15)
    _run_worker_until_final(gateway)
    cash = fetch_balances(uow=gateway.uow, channels=gateway.channels, now=gateway.now)
    for item in cash:
        assert item.error is None
        assert item.ledger.to_minor() == sandbox.ledger.balance_minor(
            item.account.bank, item.account.number.reveal())


def test_statements_fetched_twice_add_no_entry_twice(gateway, sandbox, payees):
    from bankgate.services.statements import fetch_statement

    _create(gateway, payees, 12)
    _run_worker_until_final(gateway)
    with gateway.uow() as unit:
        accounts = unit.accounts.all()
    today = gateway.now().astimezone(ZoneInfo("Asia/Shanghai")).date()  # the banks' day
    first = [fetch_statement(uow=gateway.uow, channels=gateway.channels, account_id=a.id,
                             on=today, now=gateway.now) for a in accounts]
    again = [fetch_statement(uow=gateway.uow, channels=gateway.channels, account_id=a.id,
                             on=today, now=gateway.now) for a in accounts]
    assert sum(f.new_entries for f in first) > 0
    assert sum(f.new_entries for f in again) == 0
    assert all(not f.issues for f in first), [f.issues for f in first]


def test_B05_a_duplicate_instruction_id_at_the_bank_is_adopted_not_booked_again(
        gateway, sandbox, payees):
    """B-05: the bank already holds an order's id (an earlier, lost send): query and adopt it."""
    import httpx

    [order] = _create(gateway, _sound(payees, "icbc"), 1)
    with gateway.uow() as unit:
        debtor = unit.accounts.get(order.debtor)
    from bankgate.crypto import client_ssl_context
    from tests.signing import GatewaySigning

    context = client_ssl_context(sandbox.pki)  # mutual TLS as the gateway
    earlier = {"batch_id": "Bearlier0001", "debtor_account": debtor.number.reveal(),
               "currency": "CNY", "execution_date": order.execution_date.isoformat(),
               "callback_url": None,
               "orders": [{"instruction_id": order.instruction_id,
                           "amount": f"{order.amount.amount:f}", "payee_name": order.payee.name,
                           "payee_account": order.payee.account.reveal(),
                           "payee_bank": order.payee.bank, "remittance": ""}]}
    with httpx.Client(verify=context, auth=GatewaySigning(sandbox.keys)) as client:
        answer = client.post(f"{sandbox.url(debtor.bank)}/payments/batches", json=earlier)
    assert answer.status_code == 200, answer.text
    _run_worker_until_final(gateway)
    [final] = orders_of(gateway)
    assert final.status is Status.SETTLED
    with gateway.uow() as unit:
        history = [(h["to_status"], h["detail"]) for h in unit.audit.for_subject(final.id)]
    assert "unknown" in [h[0] for h in history], history
    check_invariants(gateway, sandbox)


def test_a_bank_without_a_channel_is_never_marked_as_sent(store_url, payees):
    """Found by hand: a missing channel must leave the batch ready, not a false `unknown`."""
    from bankgate.bootstrap import build_app
    from bankgate.services._tx import RetryLater
    from bankgate.services.batching import form_batches
    from bankgate.services.dispatch import dispatch_batch
    from bankgate.settings import Settings

    config = {"accounts": [{"id": "icbc-cny", "bank": "icbc", "number": "6222020200001000001",
                            "currency": "CNY", "name": "示例科技有限公司"}]}
    app = build_app(Settings(db_url=store_url), config)
    try:
        _create(app, _sound(payees, "icbc"), 2)
        [batch] = form_batches(uow=app.uow, now=app.now)
        with pytest.raises(RetryLater, match="no channel is configured for bank 'icbc'"):
            dispatch_batch(uow=app.uow, channels={}, batch_id=batch.id, now=app.now,
                           follow=app.follow)
        with app.uow() as unit:
            assert unit.batches.get(batch.id).state.value == "ready"
            assert {o.status for o in unit.orders.by_batch(batch.id)} == {Status.RELEASED}
    finally:
        app.close()


def test_B09_the_bank_calls_back_five_times_per_change_and_each_order_moves_once(
        store_url, sandbox, world, payees, caplog):
    """B-09 end to end: the sandbox delivers every callback ×5 concurrently to the real API.

    Also INV-7: nothing logged during the run holds a full account number.
    """
    import logging
    import socket
    import threading
    import time as clock

    import uvicorn

    from bankgate.api import create_app
    from bankgate.bootstrap import build_app
    from bankgate.settings import Settings
    from tests.e2e.harness import gateway_config

    caplog.set_level(logging.DEBUG)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = gateway_config(sandbox, world, poll_first_s=5.0, poll_max_s=5.0)
    for bank in config["banks"].values():
        if bank["kind"] == "hostapi":  # the front-end channel (cmb) has no callbacks
            bank["callback_url"] = f"http://127.0.0.1:{port}/api/v1/callbacks/icbc"
    gateway = build_app(Settings(db_url=store_url), config)
    server = uvicorn.Server(uvicorn.Config(create_app(gateway), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        clock.sleep(0.02)
    try:
        sandbox.set_faults(bank=None, duplicate_callbacks=5)
        created = _create(gateway, _sound(payees, "icbc"), 6)
        worker = Worker(gateway.job_context(), concurrency=2, lease_s=5)
        try:
            for _ in range(20):  # dispatch only; polls are 5 s away, so callbacks must settle
                worker.run_once()
        finally:
            worker.close()
        wait_for(lambda: all(o.status is Status.SETTLED for o in orders_of(gateway)), 15,
                 "callbacks to settle every order")
        with gateway.uow() as unit:
            for order in created:
                settled = [h for h in unit.audit.for_subject(order.id)
                           if h["to_status"] == "settled"]
                assert len(settled) == 1 and settled[0]["detail"]["via"] == "callback"
        check_invariants(gateway, sandbox)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        gateway.close()
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    for order in created:
        assert order.payee.account.reveal() not in logged


def _batch_notes(app) -> list[tuple[str, str]]:
    """The `batch.not_found` decisions about the (one) batch of the orders: (to, note)."""
    batches = {o.batch_id for o in orders_of(app) if o.batch_id}
    with app.uow() as unit:
        return [(r["to_status"], r["detail"]["note"]) for b in sorted(batches)
                for r in unit.audit.for_subject(b) if r["action"] == "batch.not_found"]


def test_B07_K06_a_batch_lost_before_the_bank_is_resent_with_the_same_ids_after_the_grace(
        gateway, sandbox, payees):
    """B-07, K-06: the submit is lost before the bank does anything (the connection closes,
    so the outcome is unknown). The bank says "not found" to every status query; inside
    `not_found_grace_s` the orders stay `unknown`; after it the same batch and instruction
    ids go again — an answered question, not a blind resend — and each is booked once."""
    sandbox.set_faults(bank=None, script=[{"op": "submit", "fault": "drop_before_accept"}])
    created = _create(gateway, _sound(payees, "icbc"), 3)
    _run_worker_until_final(gateway, timeout_s=30)
    with gateway.uow() as unit:
        passed = {o.id: [h["to_status"] for h in unit.audit.for_subject(o.id)]
                  for o in created}
    assert all("unknown" in steps and steps[-1] == "settled" for steps in passed.values())
    assert _batch_notes(gateway) == [("ready", "bank has no record; resending the same ids")]
    bookings = sandbox.ledger.debit_bookings()
    assert all(bookings.get(o.instruction_id) == 1 for o in created)
    check_invariants(gateway, sandbox, orders_of(gateway))


def test_B07_a_bank_that_never_gets_the_batch_leaves_it_to_a_person_after_max_resends(
        gateway, sandbox, payees):
    """B-07: every submit is lost. After `max_resends` (3) answered resends the batch waits
    for a person (`needs_attention`): no further automatic send, nothing booked, orders
    `unknown` — never a new id."""
    sandbox.set_faults(bank=None,
                       script=[{"op": "submit", "fault": "drop_before_accept"}] * 10)
    created = _create(gateway, _sound(payees, "icbc"), 2)
    worker = Worker(gateway.job_context(), concurrency=2, lease_s=5)
    try:
        wait_for(lambda: (worker.run_once() or True) and any(
            to == "needs_attention" for to, _ in _batch_notes(gateway)), 40,
            "the batch to wait for a person")
        for _ in range(20):  # and nothing more happens by itself
            worker.run_once()
    finally:
        worker.close()
    notes = _batch_notes(gateway)
    assert [to for to, _ in notes] == ["ready", "ready", "ready", "needs_attention"]
    assert all(o.status is Status.UNKNOWN for o in orders_of(gateway))
    assert not any(sandbox.ledger.debit_bookings().get(o.instruction_id) for o in created)
    [batch_id] = {o.batch_id for o in orders_of(gateway)}
    with gateway.uow() as unit:
        ids = {o.instruction_id for o in unit.orders.by_batch(batch_id or "")}
        sends = unit.batches.get(batch_id or "").send_attempts
    assert ids == {o.instruction_id for o in created}  # the same ids throughout
    assert sends == 4  # the first send and max_resends (3) more, none after
