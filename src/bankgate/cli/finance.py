"""Registers the statement sync, reconciliation, ledger and report verbs on the root CLI."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(cli: typer.Typer) -> None:
    """Add `sync`, `reconcile`, `recon`, `ledger` and `reports` to `cli`."""
    from bankgate.cli.recon import ledger_cli, recon_cli, reconcile
    from bankgate.cli.reports import reports_cli
    from bankgate.cli.sync import sync

    cli.command("sync")(sync)
    cli.command("reconcile")(reconcile)
    cli.add_typer(recon_cli, name="recon")
    cli.add_typer(ledger_cli, name="ledger")
    cli.add_typer(reports_cli, name="reports")
