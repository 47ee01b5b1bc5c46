"""`bankgate reconcile`, `bankgate recon …` (queue, confirm, unmatch, match, receipts) and
`bankgate ledger …` (export, check): reconciliation and the vouchers it books."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bankgate.atomic import write_atomically
from bankgate.cli.errors import one_line_errors
from bankgate.cli.output import console, print_json
from bankgate.errors import ConfigError
from bankgate.settings import Settings

if TYPE_CHECKING:  # deferred: the store and services load when a verb runs, not on --help
    from rich.table import Table

    from bankgate.bootstrap import App

__all__ = ["ledger_cli", "recon_cli", "reconcile", "summary_tables"]

recon_cli = typer.Typer(no_args_is_help=True, help="Reconciliation by hand (对账).")
ledger_cli = typer.Typer(no_args_is_help=True, help="Vouchers (凭证) for the ERP.")
receipts_cli = typer.Typer(no_args_is_help=True, help="Expected receipts from the ERP (应收).")
recon_cli.add_typer(receipts_cli, name="receipts")


@contextmanager
def _app() -> Iterator[App]:
    from bankgate.bootstrap import build_app

    app = build_app(Settings.from_env())
    try:
        yield app
    finally:
        app.close()


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def _person(by: str) -> str:
    if not by.strip() or ":" in by:
        raise ConfigError("--by: the name of the person deciding (no ':')")
    return f"user:{by.strip()}"


@one_line_errors
def reconcile(account: str | None = typer.Option(None, "--account", help="One account id."),
              on: str | None = typer.Option(None, "--date", help="Entries booked on this day."),
              run: bool = typer.Option(True, "--run/--no-run", help="Match first (default)."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Match open entries, then show the match rate, exceptions and their age."""
    from bankgate.services.recon import reconcile as run_recon
    from bankgate.services.recon_summary import recon_summary, summary_document

    day = _day(on, "--date")
    with _app() as app:
        done = run_recon(uow=app.uow, config=app.finance.recon, now=app.now,
                         account_id=account, on=day) if run else None
        summary = recon_summary(uow=app.uow, now=app.now, zone=app.finance.sync.zone,
                                account_id=account, on=day)
    document = summary_document(summary)
    if done is not None:
        document["run"] = asdict(done)
    if as_json:
        print_json(document)
        return
    for table in summary_tables(summary):
        console.print(table)


def summary_tables(summary: Any, *, limit: int = 20) -> list[Table]:
    """The match rate with aging, the oldest exceptions, and books against bank."""
    from rich.table import Table

    rate = summary.rate_pct
    head = Table(title=f"Reconciliation 对账: {rate if rate is not None else 'n/a'} % matched "
                       f"({summary.matched} of {summary.lines} entries)", title_justify="left")
    for bucket in summary.aging:
        head.add_column(f"exceptions {bucket}", justify="right")
    head.add_row(*(str(n) for n in summary.aging.values()))
    rows = Table(title="Exceptions 未达账项 (oldest first)", title_justify="left")
    for name in ("kind", "account", "date", "age (d)", "amount", "suggestions", "what"):
        rows.add_column(name, justify="right" if name in ("age (d)", "amount") else "left")
    for e in summary.exceptions[:limit]:
        rows.add_row(e.kind, e.account_id, str(e.on), str(e.age_days), e.amount or "",
                     str(e.suggestions or ""), e.text[:60])
    books = Table(title="Books against bank 账实核对", title_justify="left")
    for name in ("account", "ccy", "bank 银行余额", "ledger 账面余额", "difference 差额"):
        books.add_column(name, justify="left" if name in ("account", "ccy") else "right")
    for b in summary.books:
        mark = "" if b.difference == 0 else "[red]"
        books.add_row(b.account_id, b.currency, f"{b.bank:,f}", f"{b.ledger:,f}",
                      f"{mark}{b.difference:,f}")
    return [head, rows, books] if summary.exceptions else [head, books]


@recon_cli.command("queue")
@one_line_errors
def queue(account: str | None = typer.Option(None, "--account"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Suggestions waiting for a person (待人工确认), best first per entry."""
    from bankgate.services.recon_summary import manual_queue

    with _app() as app:
        found = manual_queue(uow=app.uow, account_id=account)
    if as_json:
        print_json([asdict(s) for s in found])
        return
    from rich.table import Table

    table = Table(title="Manual queue 待确认", title_justify="left")
    for name in ("match id", "account", "entries", "items", "rank", "confidence", "why"):
        table.add_column(name)
    for s in found:
        table.add_row(s.match_id, s.account_id, ",".join(map(str, s.entry_ids)),
                      ",".join(s.item_ids), str(s.rank), str(s.confidence), s.explanation)
    console.print(table)


@recon_cli.command("confirm")
@one_line_errors
def confirm(match_id: str, by: str = typer.Option(..., "--by", help="Who decides.")) -> None:
    """Confirm a suggestion; books its voucher."""
    from bankgate.services.recon import confirm as do_confirm

    with _app() as app:
        number = do_confirm(uow=app.uow, match_id=match_id, actor=_person(by), now=app.now)
    print(f"{match_id}: confirmed, voucher {number}")


@recon_cli.command("unmatch")
@one_line_errors
def unmatch(match_id: str, by: str = typer.Option(..., "--by"),
            reason: str = typer.Option(..., "--reason", help="Why (kept in the audit).")) -> None:
    """Undo a confirmed match; its voucher is reversed (红字冲销)."""
    from bankgate.services.recon import unmatch as do_unmatch

    with _app() as app:
        number = do_unmatch(uow=app.uow, match_id=match_id, actor=_person(by), reason=reason,
                            now=app.now)
    print(f"{match_id}: undone" + (f", reversal voucher {number}" if number else ""))


@recon_cli.command("match")
@one_line_errors
def match(entry: list[int] = typer.Option(..., "--entry", help="Entry id (repeat)."),
          item: list[str] = typer.Option(..., "--item", help="Open item id (repeat)."),
          by: str = typer.Option(..., "--by"), note: str = typer.Option("", "--note")) -> None:
    """Match entries to items by hand (rematch)."""
    from bankgate.services.recon import match_by_hand

    with _app() as app:
        match_id, number = match_by_hand(uow=app.uow, entry_ids=entry, item_ids=item,
                                         actor=_person(by), note=note, now=app.now)
    print(f"{match_id}: matched by hand, voucher {number}")


@receipts_cli.command("import")
@one_line_errors
def receipts_import(file: Path = typer.Argument(..., help="CSV or JSON (docs).")) -> None:
    """Import expected receipts: every row valid or nothing stored; once per file."""
    from bankgate.services.recon_items import import_receipts

    if not file.is_file():
        raise ConfigError(f"{file}: not a readable file")
    with _app() as app:
        done = import_receipts(uow=app.uow, content=file.read_bytes(), origin=file.name,
                               now=app.now)
    verb = "already imported; nothing added" if done.already_imported else "imported"
    print(f"{file.name}: {verb}: {done.rows} rows, {done.new_items} new open items")


@ledger_cli.command("export")
@one_line_errors
def export(output: Path = typer.Option(..., "-o", "--output", help="File to write."),
           fmt: str = typer.Option("csv", "--format", help="csv or json"),
           again: bool = typer.Option(False, "--again", help="Every voucher, exported or not."),
           since: str | None = typer.Option(None, "--since", help="Vouchers dated from.")) -> None:
    """Write the vouchers not yet exported (docs/ledger-export.md); each goes out once."""
    from bankgate.services.ledger import mark_exported, prepare_export

    if fmt not in ("csv", "json"):
        raise ConfigError(f"--format: {fmt!r} is not csv or json")
    with _app() as app:
        prepared = prepare_export(uow=app.uow, fmt=fmt, again=again,
                                  since=_day(since, "--since"))
        if not prepared.voucher_ids:
            print("no voucher to export" + ("" if again else " (use --again to re-export)"))
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(output, prepared.content, mode=0o600)
        mark_exported(uow=app.uow, voucher_ids=prepared.voucher_ids, now=app.now)
    print(f"{output}: {len(prepared.voucher_ids)} vouchers")
