"""Statement sync against the sandbox banks: checked, gaps re-fetched, idempotent (INV-3, K-14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bankgate.domain.continuity import DayBalances, continuity_breaks, missing_days
from bankgate.services.statements import import_statement_file
from bankgate.services.sync import (
    next_run,
    schedule_sync,
    sync_account,
)
from bankgate.services.worker import Worker
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import (
    SHANGHAI,
    CamtEntry,
    bank_today,
    camt_file,
    pay,
    sound_payees,
)


def _sync(app, account_id="icbc-cny", **kw):
    return sync_account(uow=app.uow, channels=app.channels, account_id=account_id,
                        now=app.now, config=app.finance.sync, through=bank_today(), **kw)


def _company_number(world, bank="icbc"):
    return next(a.number for a in world.company_accounts() if a.bank == bank)


def _state(app, account_id="icbc-cny"):
    with app.uow() as unit:
        return (unit.sync.entry_ids(account_id), unit.sync.booked_total_minor(account_id),
                [(e.on, e.kind) for e in unit.sync.exceptions(account_id)])


def test_sync_stores_every_booking_once_and_the_books_add_up_to_the_bank_balance(
        gateway, sandbox, payees, world):
    orders = pay(gateway, sound_payees(payees, 4))
    report = _sync(gateway)
    number = _company_number(world)
    bookings = sandbox.ledger.bookings("icbc", number)
    assert report.days_fetched == [bank_today() - timedelta(days=n) for n in (2, 1, 0)]
    assert report.new_entries == len(bookings) == len(orders)
    assert report.open_exceptions == 0 and not report.issues
    opening = sandbox.ledger.statement("icbc", number, bank_today()).opening_minor
    _, booked, exceptions = _state(gateway)
    assert opening + booked == sandbox.ledger.balance_minor("icbc", number)  # INV-3
    assert exceptions == []


def test_syncing_twice_changes_nothing(gateway, sandbox, payees):
    pay(gateway, sound_payees(payees, 3))
    _sync(gateway)
    before = _state(gateway)
    again = _sync(gateway)
    assert again.new_entries == 0 and again.pending_replaced == 0
    assert _state(gateway) == before


def test_a_day_the_bank_fails_to_serve_is_an_exception_and_is_fetched_on_the_next_run(
        gateway, sandbox, world):
    sandbox.set_faults("icbc", script=[{"op": "statement", "fault": "busy"}] * 3)
    first = _sync(gateway)
    missing = bank_today() - timedelta(days=2)
    assert first.days_failed == [missing]
    _, _, exceptions = _state(gateway)
    assert (missing, "fetch_failed") in exceptions and (missing, "missing") in exceptions
    with gateway.uow() as unit:
        messages = " ".join(x.message for x in unit.sync.exceptions("icbc-cny"))
    assert "busy" in messages or "503" in messages or "fail" in messages
    assert _company_number(world) not in messages  # INV-7
    second = _sync(gateway)
    assert missing in second.days_fetched
    assert _state(gateway)[2] == []


def test_a_statement_that_does_not_continue_the_previous_one_is_reported(gateway, world):
    number = _company_number(world)
    day = bank_today() - timedelta(days=3)  # the day before the sync's window
    wrong = camt_file(message="053", account=number, currency="CNY", on=day,
                      opening=Decimal("1.00"), closing=Decimal("1.00"), entries=[])
    import_statement_file(uow=gateway.uow, content=wrong, origin="old.xml", now=gateway.now)
    report = _sync(gateway)
    assert any("continuity" in issue for issue in report.issues)
    assert (day + timedelta(days=1), "continuity") in _state(gateway)[2]


def test_importing_a_file_with_the_statement_sync_already_fetched_changes_nothing(
        gateway, sandbox, payees, world):
    pay(gateway, sound_payees(payees, 3))
    _sync(gateway)
    before = _state(gateway)
    number = _company_number(world)
    view = sandbox.ledger.statement("icbc", number, bank_today())
    camt = camt_file(message="053", account=number, currency="CNY", on=bank_today(),
                     opening=Decimal(view.opening_minor) / 100,
                     closing=Decimal(view.closing_minor) / 100,
                     entries=[CamtEntry(Decimal(b.amount_minor) / 100, servicer_ref=b.serial,
                                        end_to_end_id=b.instruction_id)
                              for b in view.entries])
    done = import_statement_file(uow=gateway.uow, content=camt, origin="icbc-eod.xml",
                                 now=gateway.now)
    assert (done.entries, done.new_entries, done.issues) == (len(view.entries), 0, ())
    assert _state(gateway) == before


def test_an_intraday_pending_entry_is_replaced_by_its_booking_without_double_counting(
        gateway, sandbox, payees, world):
    orders = pay(gateway, sound_payees(payees, 2))
    number = _company_number(world)
    intraday = camt_file(message="052", account=number, currency="CNY", on=bank_today(),
                         opening=Decimal("0.00"), closing=Decimal("0.00"),
                         entries=[CamtEntry(-o.amount.amount, status="PDNG",
                                            end_to_end_id=o.instruction_id) for o in orders])
    import_statement_file(uow=gateway.uow, content=intraday, origin="intraday.xml",
                          now=gateway.now)
    report = _sync(gateway)
    assert report.pending_replaced == 2
    with gateway.uow() as unit:
        statuses = sorted(e["status"] for e in unit.statements.entries("icbc-cny"))
        booked = unit.sync.booked_total_minor("icbc-cny")
    assert statuses == ["booked", "booked", "replaced", "replaced"]
    assert booked == -sum(o.amount.to_minor() for o in orders)


def test_a_pending_entry_the_bank_never_books_lapses_and_asks_a_person(gateway, sandbox, world):
    """Statements held 3+ days past a pending entry's day without its booking: it is marked
    lapsed (it stops waiting to be replaced) and a `pending_lapsed` exception names it; a
    pending entry of today keeps waiting. A second sync changes nothing."""
    number = _company_number(world)
    for on, ref in ((bank_today() - timedelta(days=4), "GONE-1"), (bank_today(), "TODAY-1")):
        intraday = camt_file(message="052", account=number, currency="CNY", on=on,
                             opening=Decimal("0.00"), closing=Decimal("0.00"),
                             entries=[CamtEntry(Decimal("-77.70"), status="PDNG",
                                                servicer_ref=ref, end_to_end_id=ref)])
        import_statement_file(uow=gateway.uow, content=intraday, origin=f"{ref}.xml",
                              now=gateway.now)
    report = _sync(gateway)
    again = _sync(gateway)
    with gateway.uow() as unit:
        statuses = {e["bank_reference"]: e["status"] for e in unit.statements.entries("icbc-cny")}
        open_ = [(x.on, x.kind, x.message) for x in unit.sync.exceptions("icbc-cny")
                 if x.kind == "pending_lapsed"]  # (the 052 file's own day breaks continuity)
    assert (report.pending_lapsed, again.pending_lapsed) == (1, 0)
    assert statuses == {"GONE-1": "lapsed", "TODAY-1": "pending"}
    [(on, kind, message)] = open_
    assert (on, kind) == (bank_today() - timedelta(days=4), "pending_lapsed")
    assert "GONE-1" in message and "-77.70 CNY" in message


def test_the_schedule_queues_each_account_and_channel_once_at_its_next_cron_time(gateway):
    queued = schedule_sync(uow=gateway.uow, channels=gateway.channels,
                           config=gateway.finance.sync, now=gateway.now)
    again = schedule_sync(uow=gateway.uow, channels=gateway.channels,
                          config=gateway.finance.sync, now=gateway.now)
    with gateway.uow() as unit:
        pending = unit.jobs.pending()
    assert queued == again == 6 and pending == 6  # 3 accounts × (intraday, statements)


def test_a_scheduled_sync_job_runs_and_queues_its_next_run(gateway, sandbox):
    def now():
        return datetime.now(UTC) + timedelta(days=2)  # past every first run

    schedule_sync(uow=gateway.uow, channels=gateway.channels, config=gateway.finance.sync,
                  now=gateway.now)
    ctx = gateway.job_context()
    worker = Worker(type(ctx)(uow=ctx.uow, channels=ctx.channels, now=now, follow=ctx.follow),
                    concurrency=2)
    try:
        ran = sum(worker.run_once() for _ in range(4))
    finally:
        worker.close()
    with gateway.uow() as unit:
        pending = unit.jobs.pending()
        held = unit.sync.held_days("icbc-cny")
    assert ran == 6 and worker.stats.done == 6
    assert pending == 6  # each job queued its next run
    assert held  # the statements job fetched days


def test_cron_times_are_read_in_the_banks_time_zone():
    after = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    fired = next_run("30 6 * * *", after, SHANGHAI)
    assert fired == datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # 06:30 on 2 Dec, Shanghai


@pytest.mark.parametrize(("held", "expected"), [
    ((1, 2, 4), [3, 5]), ((), [1, 2, 3, 4, 5]), ((1, 2, 3, 4, 5), [])])
def test_missing_days_are_the_days_not_held(held, expected):
    base = datetime(2026, 1, 1).date()
    days = [base + timedelta(days=n - 1) for n in held]
    assert missing_days(days, base, base + timedelta(days=4)) == [
        base + timedelta(days=n - 1) for n in expected]


def test_a_continuity_break_names_the_day_and_both_balances():
    base = datetime(2026, 1, 1).date()
    breaks = continuity_breaks([DayBalances(base + timedelta(days=1), 500, 700),
                                DayBalances(base, 100, 400)])
    assert list(breaks) == [base + timedelta(days=1)]
    assert "500" in breaks[base + timedelta(days=1)] and "400" in breaks[base + timedelta(days=1)]


def test_a_bank_reference_given_twice_in_one_answer_is_reported_once():
    from bankgate.domain import EntryKey, EntryStatus, Money, Source, StatementEntry, currency
    from bankgate.domain.continuity import duplicate_references

    def entry(ref):
        return StatementEntry(key=EntryKey("bank_reference", ref),
                              amount=Money(Decimal("1.00"), currency("CNY")),
                              status=EntryStatus.BOOKED, booking_date=None, value_date=None,
                              source=Source(origin="t"))

    issues = duplicate_references([entry("A"), entry("B"), entry("A"), entry("A")])
    assert [i.message for i in issues] == ["duplicate: bank reference A given 3 times; kept once"]


@pytest.fixture
def slow_bank(world, tmp_path):
    """A sandbox whose payments take a minute to settle, unless told to settle now."""
    from bankgate.sandbox.run import start_sandbox

    with start_sandbox(world, state_dir=tmp_path / "slow", settle_delay_s=60) as running:
        yield running


def test_a_transfer_in_transit_is_pending_at_the_receiving_bank_then_booked_once(
        store_url, slow_bank, world):
    from bankgate.bootstrap import build_app
    from bankgate.domain import Status
    from bankgate.services.intake import parse_order
    from bankgate.services.payments import create_orders
    from bankgate.settings import Settings
    from tests.e2e.harness import gateway_config, wait_for

    app = build_app(Settings(db_url=store_url), {**gateway_config(slow_bank, world),
                                                  "sync": {"lookback_days": 1}})
    worker = Worker(app.job_context(), concurrency=2)
    try:
        # boc: a host-API bank in gateway_config (cmb goes through its front-end there)
        receiving = next(a for a in world.company_accounts() if a.bank == "boc")
        with app.uow() as unit:
            accounts = {a.id: a for a in unit.accounts.all()}
        draft = parse_order({"debtor_account": "icbc-cny", "payee_name": receiving.holder,
                             "payee_account": receiving.number, "payee_bank": "boc",
                             "amount": "3000.00", "currency": "CNY",
                             "flow": "internal_transfer", "remittance": "资金调拨 TR-2"},
                            where="t", accounts=accounts, today=app.now().date())
        (order,) = create_orders(uow=app.uow, drafts=[draft], actor="user:t", now=app.now,
                                 source="t")

        def status():
            worker.run_once()
            with app.uow() as unit:
                return unit.orders.get(order.id).status

        wait_for(lambda: status() is Status.ACCEPTED, what="accepted")
        first = _sync(app, "boc-cny")
        with app.uow() as unit:
            pending = [e["status"] for e in unit.statements.entries("boc-cny")]
            booked_before = unit.sync.booked_total_minor("boc-cny")
        slow_bank.settle_now()
        wait_for(lambda: status() is Status.SETTLED, what="settled")
        second = _sync(app, "boc-cny")
        with app.uow() as unit:
            statuses = sorted(e["status"] for e in unit.statements.entries("boc-cny"))
            booked_after = unit.sync.booked_total_minor("boc-cny")
    finally:
        worker.close()
        app.close()
    assert (first.new_entries, pending, booked_before) == (1, ["pending"], 0)
    assert second.pending_replaced == 1 and statuses == ["booked", "replaced"]
    assert booked_after == 300_000  # counted once


def test_a_file_bank_delivers_every_days_statement_so_a_new_account_has_no_past_day_exceptions(
        file_gateway):
    """The demo's boc noise: an SFTP bank writes an end-of-day camt.053 for each day."""
    gateway = file_gateway
    assert gateway.channels["boc"].kind == "files"
    report = _sync(gateway, "boc-cny")
    assert report.days_fetched == [bank_today() - timedelta(days=n) for n in (2, 1, 0)]
    assert report.days_failed == [] and report.open_exceptions == 0
    assert _state(gateway, "boc-cny")[2] == []


def test_days_before_history_from_are_neither_fetched_nor_missing(store_url, sandbox, world):
    from bankgate.bootstrap import build_app
    from bankgate.settings import Settings
    from tests.e2e.harness import gateway_config

    since = bank_today() - timedelta(days=1)
    config = {**gateway_config(sandbox, world),
              "sync": {"lookback_days": 5, "history_from": since.isoformat()}}
    app = build_app(Settings(db_url=store_url), config)
    try:
        report = _sync(app)
        assert report.days_fetched == [since, bank_today()]
        assert report.open_exceptions == 0 and _state(app)[2] == []
    finally:
        app.close()


def test_history_from_must_be_a_date():
    from bankgate.errors import ConfigError
    from bankgate.services.finance_config import finance_config

    assert finance_config({"sync": {"history_from": "2026-11-01"}}).sync.history_from == \
        datetime(2026, 11, 1).date()
    with pytest.raises(ConfigError, match=r"sync\.history_from: .11/01. is not a date"):
        finance_config({"sync": {"history_from": "11/01"}})


@pytest.mark.parametrize("bad", [0, 61, "3", True, 2.5])
def test_pending_lapse_days_must_be_a_whole_number_of_days(bad):
    from bankgate.errors import ConfigError
    from bankgate.services.finance_config import finance_config

    assert finance_config({"sync": {"pending_lapse_days": 5}}).sync.pending_lapse_days == 5
    with pytest.raises(ConfigError, match=r"sync\.pending_lapse_days: .* from 1 to 60"):
        finance_config({"sync": {"pending_lapse_days": bad}})
