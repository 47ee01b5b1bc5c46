"""`bankgate sync [ACCOUNT]`: fetch, check and store statements now, with progress."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.output import console, print_json, terminal
from bankgate.errors import ConfigError

if TYPE_CHECKING:  # rich loads when something is drawn (see cli/output.py)
    from rich.table import Table

__all__ = ["sync"]


@one_line_errors
def sync(account: str | None = typer.Argument(None, help="One account id (default: all)."),
         through: str | None = typer.Option(None, help="Last end-of-day statement to fetch "
                                            "(YYYY-MM-DD; default yesterday, banks' time)."),
         schedule: bool = typer.Option(False, "--schedule", help="Also queue the scheduled "
                                       "syncs ([sync] cron) and file collections "
                                       "(collect_every_s) for the worker."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Fetch every missing statement and today's transactions, check them, store them once."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bankgate.bootstrap import build_app
    from bankgate.services.collect_job import schedule_collect
    from bankgate.services.sync import schedule_sync, sync_accounts
    from bankgate.settings import Settings

    last = _date(through) if through else None
    app = build_app(Settings.from_env())
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=terminal(), disable=as_json, transient=True) as progress:
            task = progress.add_task("sync 同步对账单", total=None)
            reports = sync_accounts(
                uow=app.uow, channels=app.channels, now=app.now, config=app.finance.sync,
                account_ids=[account] if account else None, through=last,
                progress=lambda what: progress.update(task, description=f"sync {what}"))
        queued = schedule_sync(uow=app.uow, channels=app.channels, config=app.finance.sync,
                               now=app.now) + schedule_collect(
            uow=app.uow, channels=app.channels, now=app.now) if schedule else 0
    finally:
        app.close()
    if account and not reports:
        raise ConfigError(f"account {account!r}: not held, or its bank has no channel")
    rows = [{"account_id": r.account_id, "days": [str(d) for d in r.days_fetched],
             "failed": [str(d) for d in r.days_failed], "new_entries": r.new_entries,
             "pending_replaced": r.pending_replaced,
             "pending_lapsed": r.pending_lapsed, "open_exceptions": r.open_exceptions,
             "issues": r.issues} for r in reports]
    if as_json:
        print_json({"accounts": rows, "scheduled": queued})
        return
    console.print(_table(rows))
    for row in rows:
        for issue in row["issues"]:
            console.print(f"  [yellow]check[/yellow] {issue}")
    if schedule:
        console.print(f"{queued} scheduled jobs queued (syncs, file collections); "
                      "run `bankgate worker`")


def _table(rows: list[dict[str, object]]) -> Table:
    from rich.table import Table

    table = Table(title="Sync 对账单同步", title_justify="left")
    for name in ("account 账户", "days fetched", "failed", "new entries 新增", "pending replaced",
                 "open exceptions 异常"):
        table.add_column(name, justify="left" if name.startswith("account") else "right")
    for row in rows:
        days = row["days"]
        assert isinstance(days, list)
        failed = row["failed"]
        assert isinstance(failed, list)
        table.add_row(str(row["account_id"]), str(len(days)), str(len(failed)),
                      str(row["new_entries"]), str(row["pending_replaced"]),
                      str(row["open_exceptions"]))
    return table


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--through: {text!r} is not a date (YYYY-MM-DD)") from None
