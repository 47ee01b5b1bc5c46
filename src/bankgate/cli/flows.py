"""The flows' verbs (issue 7): `bankgate claims|payroll|transfers|receipts`, and what they share.

`register(cli)` adds the four sub-commands to the root command (one line in cli/main.py).
Actions taken by a person read their session token from `--token` or BANKGATE_TOKEN.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer

from bankgate.errors import ConfigError

if TYPE_CHECKING:  # deferred: the store and services load when a verb runs, not on --help
    from bankgate.bootstrap import App
    from bankgate.domain.people import User

__all__ = ["TOKEN", "bank_today", "gateway", "read_file", "register", "signed_in", "viewer"]

TOKEN = typer.Option(None, "--token", envvar="BANKGATE_TOKEN",
                     help="Session token of the person acting (BANKGATE_TOKEN).")
_BANK_TZ = ZoneInfo("Asia/Shanghai")


@contextmanager
def gateway() -> Iterator[App]:
    """The App from the environment, closed afterwards."""
    from bankgate.bootstrap import build_app
    from bankgate.settings import Settings

    app = build_app(Settings.from_env())
    try:
        yield app
    finally:
        app.close()


def bank_today() -> date:
    """Today on the banks' calendar (Asia/Shanghai)."""
    return datetime.now(_BANK_TZ).date()


def read_file(path: Path) -> bytes:
    """A file's bytes, or ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(f"{path}: not a readable file")
    return path.read_bytes()


def signed_in(app: App, token: str | None) -> User:
    """The person behind the token (required)."""
    from bankgate.services.flows_queries import require_user

    return require_user(uow=app.uow, token=token, now=app.now)


def viewer(app: App, token: str | None) -> User | None:
    """The person behind the token, if one was given."""
    from bankgate.services.flows_queries import user_of

    return user_of(uow=app.uow, token=token, now=app.now)


def register(cli: typer.Typer) -> None:
    """Add the flows' verbs to the root command."""
    from bankgate.cli import claims, payroll, receipts, transfers

    cli.add_typer(claims.app, name="claims")
    cli.add_typer(payroll.app, name="payroll")
    cli.add_typer(transfers.app, name="transfers")
    cli.add_typer(receipts.app, name="receipts")


def env(name: str) -> str | None:
    """An environment variable, None when unset or empty."""
    return os.environ.get(name) or None
