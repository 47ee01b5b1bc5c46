"""`bankgate receipts`: fetch, list, download one or a day's zip, report missing ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.flows import bank_today, gateway
from bankgate.cli.output import print_json
from bankgate.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Electronic receipts (电子回单).")
DAY = typer.Option(None, "--date", help="YYYY-MM-DD, the banks' date (default today).")


def _day(text: str | None) -> date:
    try:
        return date.fromisoformat(text) if text else bank_today()
    except ValueError as exc:
        raise ConfigError(f"--date: {text!r} is not YYYY-MM-DD") from exc


def _output(path: Path, content: bytes) -> None:
    if path.exists():
        raise ConfigError(f"{path}: exists already; choose another name")
    path.write_bytes(content)
    print(f"{path}: {len(content)} bytes")


@app.command("fetch")
@one_line_errors
def fetch(day: str | None = DAY) -> None:
    """Fetch a day's receipts from every bank that issues them."""
    from bankgate.services.receipts import fetch_receipts

    with gateway() as gw:
        done = fetch_receipts(uow=gw.uow, channels=gw.channels, on=_day(day), now=gw.now)
    print(f"{done.fetched} fetched, {done.new} new, {done.verified} verified, "
          f"{done.linked} linked to payments")
    for problem in done.problems:
        print(f"  {problem}")


@app.command("list")
@one_line_errors
def list_(day: str | None = DAY, as_json: bool = typer.Option(False, "--json")) -> None:
    """The receipts booked on a day."""
    from bankgate.services.flows_queries import receipt_view, receipts_on

    with gateway() as gw:
        rows = [receipt_view(r) for r in receipts_on(uow=gw.uow, day=_day(day))]
    if as_json:
        print_json({"receipts": rows})
        return
    for r in rows:
        print(f"{r['id']}  {r['bank']} {r['receipt_no']}  {r['amount']} {r['currency']}  "
              f"{r['order_id'] or '-'}  {'verified' if r['verified'] else r['verification']}")


@app.command("get")
@one_line_errors
def get(receipt_id: str, output: Path = typer.Option(..., "-o", "--output")) -> None:
    """Write one receipt's PDF (checked against its stored hash)."""
    from bankgate.services.receipts import receipt_document

    with gateway() as gw:
        _, content = receipt_document(uow=gw.uow, receipt_id=receipt_id)
    _output(output, content)


@app.command("archive")
@one_line_errors
def archive(day: str | None = DAY, output: Path = typer.Option(..., "-o", "--output")) -> None:
    """Write a day's receipts as one zip with a manifest."""
    from bankgate.services.receipts import day_archive

    with gateway() as gw:
        content = day_archive(uow=gw.uow, day=_day(day))
    _output(output, content)


@app.command("missing")
@one_line_errors
def missing(days: int = typer.Option(2, min=0, max=365)) -> None:
    """Settled payments still without their receipt after DAYS days."""
    from bankgate.services.receipts import missing_receipts

    with gateway() as gw:
        rows = missing_receipts(uow=gw.uow, now=gw.now, channels=gw.channels, days=days)
    for row in rows:
        print(f"{row['id']}  {row['debtor_id']}  settled {row['status_changed_at']:%Y-%m-%d}")
    print(f"{len(rows)} settled payment(s) without a receipt after {days} day(s)")
