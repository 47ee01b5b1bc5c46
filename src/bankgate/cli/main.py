"""`bankgate` — the command line. Each verb is thin: parse arguments, call services, print."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

try:  # typer vendors click from 0.25 on; its exceptions are the ones raised
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer with click installed
    from click import exceptions as click_errors  # type: ignore[no-redef]

from bankgate import __version__
from bankgate.cli import alerts as alerts_cli
from bankgate.cli import confirmations as confirmations_cli
from bankgate.cli import flows as flows_cli
from bankgate.cli import policy as policy_cli
from bankgate.cli import users as users_cli
from bankgate.cli.audit import audit_cli
from bankgate.cli.errors import one_line_errors
from bankgate.cli.files import files_cli
from bankgate.cli.finance import register as register_finance
from bankgate.cli.output import cash_rows, cash_table, console, print_json
from bankgate.cli.security import security_cli
from bankgate.errors import ConfigError
from bankgate.logmask import install_log_masking
from bankgate.settings import Settings

if TYPE_CHECKING:  # deferred: each verb loads the store, services and channels it uses
    from bankgate.bootstrap import App

__all__ = ["cli", "main"]

cli = typer.Typer(name="bankgate", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="bankgate — bank-enterprise direct connect gateway (银企直联).")
db_cli = typer.Typer(no_args_is_help=True, help="The store: migrations.")
export_cli = typer.Typer(no_args_is_help=True, help="Write bank files.")
payments_cli = typer.Typer(no_args_is_help=True, help="Payment orders (付款指令).")
cli.add_typer(db_cli, name="db")
cli.add_typer(payments_cli, name="payments")
payments_cli.command("awaiting-confirmation")(confirmations_cli.awaiting)  # B-19
cli.add_typer(export_cli, name="export")
cli.add_typer(files_cli, name="files")
flows_cli.register(cli)  # issue 7: claims, payroll, transfers, receipts
cli.add_typer(policy_cli.app, name="policy")  # issue 5
cli.add_typer(users_cli.app, name="users")  # issue 5
cli.add_typer(audit_cli, name="audit")
cli.add_typer(security_cli, name="security")
cli.add_typer(alerts_cli.app, name="alerts")  # issue 5: alerts
register_finance(cli)  # sync, reconcile, recon, ledger, reports (cli/finance.py)


@cli.callback()
def _root(verbose: bool = typer.Option(False, "-v", "--verbose", help="Log details.")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()  # INV-7: no full account number in any log (bankgate/logmask.py)


@cli.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def _app(data_dir: Path | None = None) -> App:
    from bankgate.bootstrap import build_app

    return build_app(Settings.from_env(data_dir=data_dir))


@db_cli.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Bring the store (BANKGATE_DB_URL, default ./var/bankgate.db) to the newest schema."""
    from bankgate.services.admin import upgrade_store

    print(f"store at revision {upgrade_store(Settings.from_env().db_url)}")


@cli.command()
@one_line_errors
def worker(concurrency: int = typer.Option(4, min=1, max=64, help="Jobs run at once."),
           until_idle: bool = typer.Option(False, help="Stop when no job is left."),
           lease_s: float = typer.Option(60.0, min=0.5, help="How long a claimed job is "
                                         "ours before another worker may take it.")) -> None:
    """Run jobs (dispatch, status polling, statements) until stopped; run many on PostgreSQL."""
    from bankgate.services.expiry_job import schedule_expiry
    from bankgate.services.flow_jobs import schedule_flow_jobs
    from bankgate.services.worker import Worker

    app = _app()
    schedule_flow_jobs(uow=app.uow, config=app.flow_jobs, now=app.now)  # issue 7
    schedule_expiry(uow=app.uow, config=app.security, now=app.now)  # issue 5: the expiry watch
    runner = Worker(app.job_context(), concurrency=concurrency, lease_s=lease_s)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if until_idle:
            runner.run_until_idle(timeout_s=3600)
        else:
            runner.run_forever(stop)
    finally:
        runner.close()
        app.close()


@cli.command()
@one_line_errors
def balances(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Cash in every bank, right now (账户余额)."""
    from bankgate.services.cash import fetch_balances, totals_by_currency

    app = _app()
    try:
        cash = fetch_balances(uow=app.uow, channels=app.channels, now=app.now)
    finally:
        app.close()
    if as_json:
        print_json({"balances": cash_rows(cash),
                    "totals": {c: f"{m.amount:f}" for c, m in totals_by_currency(cash).items()}})
    else:
        console.print(cash_table("Balances 账户余额", cash, totals_by_currency(cash)))


@payments_cli.command("import")
@one_line_errors
def payments_import(file: Path = typer.Argument(..., help="CSV or JSON payment file.")) -> None:
    """Import a payment file, all or nothing, once per content (docs/payment-files.md)."""
    from bankgate.services.payments import import_order_file

    if not file.is_file():
        raise ConfigError(f"{file}: not a readable file")
    content = file.read_bytes()
    app = _app()
    try:
        orders, created = import_order_file(uow=app.uow, content=content, origin=file.name,
                                            actor="cli", now=app.now, today=date.today())
    finally:
        app.close()
    verb = "imported" if created else "already imported earlier; nothing added:"
    print(f"{file.name}: {verb} {len(orders)} payment orders")


@cli.command()
@one_line_errors
def parse(file: Path = typer.Argument(..., help="A bank file (camt.052/053/054, MT940/942)."),
          fmt: str | None = typer.Option(None, "--format",
                                         help="camt.052, camt.053, camt.054, mt940, mt942"),
          as_json: bool = typer.Option(True, "--json/--no-json",
                                       help="Print the normalized JSON (the default).")) -> None:
    """Read a bank statement file and print it as normalized JSON (exit 2 on bad input)."""
    from bankgate.formats.parse import FORMATS, parse_to_json

    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if not file.is_file():
        raise ConfigError(f"{file}: not a readable file")
    with file.open("rb") as stream:
        result = parse_to_json(stream, file.name, fmt)
    print_json(result)


@export_cli.command("pain001")
@one_line_errors
def export_pain001(payments: Path = typer.Argument(..., help="PAYMENTS.json (docs/pain001.md)."),
                   version: str = typer.Option(..., "--version", help="03 or 09"),
                   output: Path | None = typer.Option(None, "-o", "--output",
                                                      help="Write here instead of stdout.")
                   ) -> None:
    """Write a pain.001 (credit transfer initiation) valid against the official XSD."""
    from bankgate.cli.export import export_pain001 as write

    if not payments.is_file():
        raise ConfigError(f"{payments}: not a readable file")
    write(payments, version, output)


@cli.command("import")
@one_line_errors
def import_file(file: Path = typer.Argument(..., help="A statement file (camt.05x, MT940/942)."),
                ) -> None:
    """Store a bank statement file: idempotent, all or nothing, raw file archived by hash."""
    from bankgate.services.statements import import_statement_path

    if not file.is_file():
        raise ConfigError(f"{file}: not a readable file")
    app = _app()
    try:
        done = import_statement_path(uow=app.uow, path=file, origin=file.name, now=app.now)
    finally:
        app.close()
    print(f"{file.name}: {done.format}, {done.statements} statement(s), {done.entries} "
          f"entries, {done.new_entries} new; archived as sha256 {done.raw_sha256[:16]}…")
    for issue in done.issues:
        print(f"  check: {issue}")


@cli.command()
@one_line_errors
def demo(directory: Path | None = typer.Option(None, "--dir", help="Folder for the store "
                                               "and the sandbox (default: a temp folder)."),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
         payments: int = typer.Option(200, min=1, max=100_000, help="How many payments."),
         seed: int = typer.Option(7, help="Seed of the demo world.")) -> None:
    """The whole story on the embedded default: cash, 200 payments, final answers, cash again."""
    from bankgate.cli.demo import run_demo

    run_demo(directory=directory, as_json=as_json, payments=payments, seed=seed)


@cli.command()
@one_line_errors
def sandbox(directory: Path = typer.Option(Path("var/sandbox"), "--dir",
                                           help="Where the CA, certificates and sandbox.json go."),
            port: int = typer.Option(8443, min=0, max=65535),
            settle_delay_s: float = typer.Option(1.0, min=0.0, max=3600.0),
            seed: int = typer.Option(7, help="Seed of the demo world."),
            world: Path | None = typer.Option(None, help="A world file (JSON: banks and "
                                              "accounts) instead of the demo world."),
            ledger: Path | None = typer.Option(None, help="Keep the banks' books in this "
                                               "SQLite file (durable across restarts); "
                                               "in memory without it.")) -> None:
    """Run the simulated banks (icbc, cmb, boc) until Ctrl-C."""
    from bankgate.sandbox.demo_world import demo_world
    from bankgate.sandbox.run import main_sandbox
    from bankgate.sandbox.world import World

    chosen = World.from_json(world) if world else demo_world(seed=seed)
    main_sandbox(chosen, state_dir=directory, port=port, settle_delay_s=settle_delay_s,
                 ledger_file=ledger)


@cli.command()
@one_line_errors
def serve(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000),
          worker: bool = typer.Option(True, help="Run an in-process worker too.")) -> None:
    """Start the REST API (/api/v1, OpenAPI at /openapi.json) and a worker."""
    from bankgate.cli.serve import serve as run_server

    run_server(_app(), host, port, with_worker=worker)


def main() -> None:
    """Entry point of the `bankgate` script: usage errors are one line and exit 2 too."""
    try:
        code = typer.main.get_command(cli).main(standalone_mode=False)
    except click_errors.UsageError as exc:
        message = exc.format_message()
        if message:  # empty when help was shown for a bare command
            print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # closed stdout (| head): not an error of ours
        sys.stderr.close()
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
