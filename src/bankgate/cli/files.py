"""`bankgate files`: collect a file bank's files (exactly once) and list the transfers."""

from __future__ import annotations

import dataclasses

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.output import console, print_json

__all__ = ["files_cli"]

files_cli = typer.Typer(no_args_is_help=True,
                        help="File-exchange banks (文件交换): pain.001 out, pain.002/camt in.")


@files_cli.command("collect")
@one_line_errors
def collect(bank: list[str] = typer.Option([], "--bank", help="Only this bank (repeatable)."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Fetch every new inbound file once: status reports applied, statements imported."""
    from bankgate.bootstrap import build_app
    from bankgate.services.collect_job import file_banks
    from bankgate.services.files import collect_files, file_channel
    from bankgate.settings import Settings

    app = build_app(Settings.from_env())
    try:
        banks = bank or file_banks(app.channels)
        done = [collect_files(uow=app.uow, channel=file_channel(app.channels, b), now=app.now)
                for b in banks]
    finally:
        app.close()
    if as_json:
        print_json({"collected": [dataclasses.asdict(d) for d in done]})
        return
    for d in done:
        console.print(f"{d.bank}: {d.listed} listed, {d.processed} processed, {d.skipped} "
                      f"done before, {d.duplicates} duplicate, {d.conflicts} conflicting, "
                      f"{d.unreadable} unreadable; {d.orders_moved} order moves, "
                      f"{d.new_entries} new entries; {d.uploads_marked} uploads recorded"
                      + (f"; refused names: {len(d.refused_names)}" if d.refused_names else ""))


@files_cli.command("list")
@one_line_errors
def list_(bank: str | None = typer.Option(None, "--bank", help="Only this bank."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every file that went in or out, with its state and hash."""
    from bankgate.bootstrap import build_app
    from bankgate.services.files import list_transfers
    from bankgate.settings import Settings

    app = build_app(Settings.from_env())
    try:
        rows = list_transfers(uow=app.uow, bank=bank)
    finally:
        app.close()
    if as_json:
        print_json({"transfers": rows})
        return
    from rich.table import Table

    table = Table(title="File transfers 文件传输", title_justify="left")
    for column in ("bank", "dir", "name", "kind", "state", "sha256"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["bank"]), str(row["direction"]), str(row["name"]),
                      str(row["kind"] or ""), str(row["state"]), str(row["sha256"])[:12])
    console.print(table)
