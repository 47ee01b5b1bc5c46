"""`bankgate demo`: the whole story on the embedded default, in under a minute.

A company with accounts at three sandbox banks sees its cash, pays 200 suppliers and
employees, follows every payment to the bank's final answer, fetches the day's statements,
and sees its cash again. The invariants are checked against the banks' own ledgers.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bankgate.bootstrap import App, build_app
from bankgate.cli.demo_alerts import alerts_story, watch_config
from bankgate.cli.demo_files import describe, exchange_files, use_file_channel
from bankgate.cli.demo_finance import finance_story
from bankgate.cli.flows_demo import run_flows_demo
from bankgate.cli.output import (
    cash_rows,
    cash_table,
    console,
    print_json,
    status_table,
    terminal,
)
from bankgate.domain import REASONS, TERMINAL, PaymentOrder, Status
from bankgate.services.cash import AccountCash, fetch_balances, totals_by_currency
from bankgate.services.demo_controls import act_as_demo_users
from bankgate.services.intake import parse_order
from bankgate.services.payments import create_orders
from bankgate.services.statements import fetch_statement
from bankgate.services.worker import Worker
from bankgate.settings import Settings, default_sqlite_url

__all__ = ["run_demo"]

DEADLINE_S = 55.0
BANK_TIMEZONE = ZoneInfo("Asia/Shanghai")


def _demo_secret_key(folder: Path) -> None:
    """Give the demo's store a master key of its own (TOTP secrets are sealed under it),
    kept in its folder, unless the environment names one (docs/security.md)."""
    if os.environ.get("BANKGATE_SECRET_KEY") or os.environ.get("BANKGATE_SECRET_KEY_FILE"):
        return
    key = folder / "secret.key"
    if not key.exists():
        key.touch(mode=0o600)
        key.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    os.environ["BANKGATE_SECRET_KEY_FILE"] = str(key)


def run_demo(*, directory: Path | None, as_json: bool, payments: int, seed: int) -> None:
    """Tell the story; print it as tables, or as one JSON object with `as_json`."""
    started = time.monotonic()
    with _folder(directory) as folder:
        _demo_secret_key(folder)
        from bankgate.sandbox.demo_flows import with_employees
        from bankgate.sandbox.demo_world import demo_payees, demo_world
        from bankgate.sandbox.run import start_sandbox

        world = demo_world(seed=seed)
        with start_sandbox(with_employees(world), state_dir=folder / "sandbox",  # issue 7
                           settle_delay_s=0.3) as bank:
            url = os.environ.get("BANKGATE_DB_URL") or default_sqlite_url(folder)
            config = use_file_channel(gateway_config(bank, world), bank)
            config["security"] = watch_config(bank.pki)  # issue 5: a certificate to renew
            app = build_app(Settings(db_url=url), config)
            try:
                story = _tell(app, bank, demo_payees(world)[:payments], as_json)
                story["flows"] = run_flows_demo(app, (lambda *_: None) if as_json  # issue 7
                                                else console.print)
                # last: sync, reconcile, cash position and charts (issue 6)
                story["finance"] = finance_story(app, folder, as_json)  # cli/demo_finance.py
                story["alerts"] = alerts_story(app, (lambda *_: None) if as_json  # issue 5
                                               else console.print)
            finally:
                app.close()
    story["elapsed_s"] = round(time.monotonic() - started, 2)
    story["store"] = "sqlite" if url.startswith("sqlite") else url.split(":", 1)[0]
    if as_json:
        print_json(story)
    else:
        console.print(f"\n[b]done in {story['elapsed_s']} s[/b]; invariants: "
                      + ", ".join(f"{k} {'✓' if v else '✗'}" for k, v in story["checks"].items()))


@contextmanager
def _folder(directory: Path | None) -> Iterator[Path]:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix="bankgate-demo-") as tmp:
        yield Path(tmp)


def gateway_config(bank: Any, world: Any) -> dict[str, Any]:
    """Banks (host API channels to the sandbox) and the company's accounts, as configuration."""
    from bankgate.sandbox.frontend import frontend_banks_config

    banks = {spec.id: {**bank.gateway_options(spec.id), "timeout_s": 5.0}  # mTLS, signed
             for spec in world.banks}
    banks.update(frontend_banks_config(bank, timeout_s=5.0))  # cmb through its 前置机
    accounts = [{"id": f"{acct.bank}-{acct.currency.lower()}", "bank": acct.bank,
                 "number": acct.number, "currency": acct.currency, "name": acct.holder}
                for acct in world.company_accounts()]
    return {"banks": banks, "accounts": accounts, "policy": "demo",
            "follow": {"poll_first_s": 0.2, "poll_max_s": 2.0, "not_found_grace_s": 2.0}}


def _tell(app: App, bank: Any, payees: Sequence[Mapping[str, Any]], quiet: bool) -> dict[str, Any]:
    say = (lambda *_: None) if quiet else console.print
    before = fetch_balances(uow=app.uow, channels=app.channels, now=app.now)
    say(cash_table("1. Cash before 付款前余额", before, totals_by_currency(before)))
    run = f"demo:{datetime.now(UTC):%Y%m%dT%H%M%S}"
    orders = create_orders(uow=app.uow, drafts=_drafts(app, payees), actor="user:demo",
                           now=app.now, source=run)
    orders, approvals = act_as_demo_users(uow=app.uow, sealer=app.sealer, now=app.now,
                                          orders=orders)  # issue 5: approvals with TOTP
    say("\n".join(approvals))
    say(f"\n2. Created {len(orders)} payment orders (suppliers and payroll), released for "
        "dispatch 已创建并放行付款指令")
    finished = _follow(app, [o.id for o in orders], quiet)
    final = _orders(app, [o.id for o in orders])
    outcomes = _outcomes(final)
    say(status_table("3. Every payment's final answer 付款结果", _outcome_rows(outcomes)))
    statements = _statements(app)
    say(f"\n4. Statements fetched 对账单: {sum(s['entries'] for s in statements)} entries "
        f"in {len(statements)} accounts")
    files = exchange_files(app)
    say(describe(files))
    after = fetch_balances(uow=app.uow, channels=app.channels, now=app.now)
    say(cash_table("5. Cash after 付款后余额", after, totals_by_currency(after)))
    return {"run": run, "payments": len(orders), "finished": finished,
            "balances_before": cash_rows(before), "balances_after": cash_rows(after),
            "totals_before": _totals(before), "totals_after": _totals(after),
            "outcomes": outcomes, "files": files,
            "statements": statements, "checks": _checks(app, bank, final, before, after)}


def _drafts(app: App, payees: Sequence[Mapping[str, Any]]) -> list[Any]:
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    by_bank = {a.bank: a.id for a in accounts.values()}
    debtors = sorted(accounts)
    drafts = []
    for index, payee in enumerate(payees):
        debtor = by_bank.get(payee["bank"]) or debtors[index % len(debtors)]
        request = {"debtor_account": debtor, "payee_name": payee["name"],
                   "payee_account": payee["account"], "payee_bank": payee["bank"],
                   "amount": str(payee["amount"]), "currency": "CNY",
                   "flow": payee.get("flow", "supplier"),
                   "remittance": payee.get("remittance") or f"DEMO-{index + 1:04d}"}
        drafts.append(parse_order(request, where=f"payee {index + 1}", accounts=accounts,
                                  today=app.now().date()))
    return drafts


def _follow(app: App, ids: list[str], quiet: bool) -> bool:
    worker = Worker(app.job_context(), concurrency=4, lease_s=30)
    deadline = time.monotonic() + DEADLINE_S
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                      console=terminal(), disable=quiet, transient=False) as progress:
            task = progress.add_task("following payments 跟踪付款", total=len(ids), counts="")
            while time.monotonic() < deadline:
                counts = Counter(o.status.value for o in _orders(app, ids))
                done = sum(n for s, n in counts.items() if Status(s) in TERMINAL)
                progress.update(task, completed=done, counts=" ".join(
                    f"{s}:{n}" for s, n in sorted(counts.items())))
                if done == len(ids):
                    return True
                if not worker.run_once():
                    time.sleep(0.05)
    finally:
        worker.close()
    return False


def _orders(app: App, ids: list[str]) -> list[PaymentOrder]:
    with app.uow() as unit:
        return unit.orders.get_many(ids)


def _outcomes(orders: Sequence[PaymentOrder]) -> list[dict[str, Any]]:
    """Orders per final status, with the bank's reasons (ISO codes) for the failed ones."""
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for order in orders:
        if order.status in (Status.REJECTED, Status.RETURNED):
            reasons[order.status.value][order.reason_code or "NARR"] += 1
    counts = Counter(o.status.value for o in orders)
    return [{"status": status, "count": count,
             "reasons": [{"code": code, "text": REASONS.get(code, ""), "count": n}
                         for code, n in reasons[status].most_common()]}
            for status, count in sorted(counts.items())]


def _outcome_rows(outcomes: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [(o["status"], o["count"], "\n".join(f"{r['code']} {r['text']} ×{r['count']}"
                                                for r in o["reasons"])) for o in outcomes]


def _statements(app: App) -> list[dict[str, Any]]:
    with app.uow() as unit:
        accounts = unit.accounts.all()
    today = datetime.now(BANK_TIMEZONE).date()  # the sandbox banks book on Shanghai days
    fetched = []
    for account in accounts:
        result = fetch_statement(uow=app.uow, channels=app.channels, account_id=account.id,
                                 on=today, now=app.now)
        fetched.append({"account_id": account.id, "date": today.isoformat(),
                        "entries": result.entries, "new_entries": result.new_entries,
                        "issues": list(result.issues)})
    return fetched


def _totals(cash: Sequence[AccountCash]) -> dict[str, str]:
    return {code: f"{money.amount:f}" for code, money in totals_by_currency(cash).items()}


def _checks(app: App, bank: Any, orders: Sequence[PaymentOrder], before: Sequence[AccountCash],
            after: Sequence[AccountCash]) -> dict[str, bool]:
    bookings = bank.ledger.debit_bookings()
    settled = {o.instruction_id for o in orders if o.status in (Status.SETTLED,
                                                               Status.ACCEPTED)}
    rejected = {o.instruction_id for o in orders if o.status is Status.REJECTED}
    return {
        "INV-1 no double payment": all(bookings.get(i, 0) <= 1 for i in bookings)
        and all(bookings.get(i, 0) == 1 for i in settled),
        "INV-2 every payment has the bank's final word": all(o.status in TERMINAL
                                                             for o in orders),
        "INV-3 money conserved at the banks":
            bank.ledger.total_minor() == bank.ledger.opening_total_minor(),
        "rejected payments never booked": all(bookings.get(i, 0) == 0 for i in rejected),
    }
