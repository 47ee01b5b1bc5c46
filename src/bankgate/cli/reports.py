"""`bankgate reports …`: cash position, forecast, daily balances, payments, reconciliation —
as tables, JSON, CSV, Excel and charts (docs/reports.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.output import console, print_json
from bankgate.settings import Settings

if TYPE_CHECKING:  # deferred: the store and services load when a verb runs, not on --help
    from rich.table import Table

    from bankgate.bootstrap import App

__all__ = ["report_table", "reports_cli"]

reports_cli = typer.Typer(no_args_is_help=True, help="Treasury reports (资金报表).")


@contextmanager
def _app(fetch: bool = False) -> Iterator[App]:
    from bankgate.bootstrap import build_app

    app = build_app(Settings.from_env())
    try:
        if fetch:
            from bankgate.services.cash import fetch_balances

            fetch_balances(uow=app.uow, channels=app.channels, now=app.now)
        yield app
    finally:
        app.close()


#: The columns a terminal shows of a wide report (the files keep them all).
_SHOWN: dict[str, tuple[int, ...]] = {"cash_position": (0, 2, 3, 5, 6, 7)}


def report_table(report: Any) -> Table:
    """A report as a rich table (numbers right-aligned, grouped)."""
    from rich.table import Table

    table = Table(title=report.title, title_justify="left")
    shown = _SHOWN.get(report.name, tuple(range(len(report.columns))))
    for i in shown:
        right = any(isinstance(r[i], Decimal | int) for r in report.rows)
        table.add_column(report.columns[i], justify="right" if right else "left")
    for row in report.rows:
        table.add_row(*(_cell(row[i]) for i in shown))
    for note in report.notes:
        table.caption = (table.caption + "; " if table.caption else "") + note
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,f}"
    return str(value)


def _show(build: Callable[[App], Any], as_json: bool, fetch: bool = False) -> None:
    with _app(fetch) as app:
        report = build(app)
    if as_json:
        print_json({"title": report.title, "columns": list(report.columns),
                    "rows": [[_json(c) for c in row] for row in report.rows],
                    "notes": list(report.notes)})
    else:
        console.print(report_table(report))


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value.isoformat() if isinstance(value, date) else value


_JSON = typer.Option(False, "--json", help="Print JSON.")


@reports_cli.command("cash")
@one_line_errors
def cash(as_json: bool = _JSON,
         fetch: bool = typer.Option(False, "--fetch", help="Ask every bank first.")) -> None:
    """Cash position across banks, entities and currencies, with each figure's age."""
    from bankgate.services.reports import cash_position

    _show(lambda a: cash_position(uow=a.uow, settings=a.finance.reports,
                                  zone=a.finance.sync.zone, now=a.now), as_json, fetch)


@reports_cli.command("forecast")
@one_line_errors
def forecast(days: int = typer.Option(7, min=1, max=90), as_json: bool = _JSON) -> None:
    """Cash plus expected receipts minus approved-but-unpaid orders, day by day."""
    from bankgate.services.reports import forecast as build

    _show(lambda a: build(uow=a.uow, settings=a.finance.reports, zone=a.finance.sync.zone,
                          now=a.now, days=days), as_json)


@reports_cli.command("history")
@one_line_errors
def history(days: int = typer.Option(30, min=1, max=3660), as_json: bool = _JSON) -> None:
    """Each account's closing balance per day."""
    from bankgate.services.reports import balance_history

    _show(lambda a: balance_history(uow=a.uow, zone=a.finance.sync.zone, now=a.now,
                                    days=days), as_json)


@reports_cli.command("payments")
@one_line_errors
def payments(as_json: bool = _JSON) -> None:
    """Payment orders per status: how many, how much."""
    from bankgate.services.reports import payment_status

    _show(lambda a: payment_status(uow=a.uow), as_json)


@reports_cli.command("recon")
@one_line_errors
def recon(as_json: bool = _JSON) -> None:
    """Match rate per account and exception aging."""
    from bankgate.services.reports import recon_report

    _show(lambda a: recon_report(uow=a.uow, zone=a.finance.sync.zone, now=a.now), as_json)


@reports_cli.command("export")
@one_line_errors
def export(out: Path = typer.Option(..., "--out", help="Folder for the files."),
           charts: bool = typer.Option(True, "--charts/--no-charts")) -> None:
    """Every report as CSV, one Excel workbook, and PNG + SVG charts."""
    with _app() as app:
        written = write_all(app, out, charts=charts)
    for path in written:
        print(path)


def write_all(app: App, out: Path, *, charts: bool = True) -> list[Path]:
    """Write every report's files into `out`; returns their paths."""
    from bankgate.services.report_files import write_charts, write_csv, write_xlsx
    from bankgate.services.reports import all_reports

    out.mkdir(parents=True, exist_ok=True)
    reports = all_reports(uow=app.uow, settings=app.finance.reports, sync=app.finance.sync,
                          now=app.now)
    written = [write_csv(r, out) for r in reports]
    written.append(write_xlsx(reports, out / "reports.xlsx"))
    if charts:
        written += write_charts(reports, out)
    return written
