"""`bankgate security` — the expiry watch and token administration."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from bankgate.cli.errors import EXIT_FAILED, one_line_errors

__all__ = ["security_cli"]

security_cli = typer.Typer(no_args_is_help=True,
                           help="Security: certificates, tokens and credentials that expire.")


@security_cli.command("expiry")
@one_line_errors
def expiry(config: Path | None = typer.Option(None, "--config", help="Watch file or bankgate "
                                               "config with a [security] table."),
           cert: list[Path] = typer.Option([], "--cert", help="A certificate to watch too."),
           warn_days: int | None = typer.Option(None, "--warn-days", min=0, help="Warn this "
                                                "many days before (default: the file's, 30)."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List what expires; exit 1 if anything is due within the window or expired."""
    from bankgate.services.expiry import (
        DEFAULT_WARN_DAYS,
        Level,
        check_expiry,
        load_watch,
        watch_file,
    )

    if config:
        items, window = watch_file(config, extra_certificates=cert)
    else:
        items, window = load_watch({}, base=Path.cwd(), where="--cert",
                                   extra_certificates=cert)
        window = DEFAULT_WARN_DAYS
    findings = check_expiry(items, now=dt.datetime.now(dt.UTC),
                            warn_days=window if warn_days is None else warn_days)
    if as_json:
        print(json.dumps([{"kind": f.item.kind, "name": f.item.name,
                           "expires_at": f.item.expires_at.isoformat(),
                           "days_left": round(f.days_left, 1), "level": str(f.level)}
                          for f in findings]))
    else:
        for finding in findings:
            print(finding.line())
        if not findings:
            print("nothing to watch: name certificates, tokens or credentials")
    if any(f.level is not Level.OK for f in findings):
        raise typer.Exit(EXIT_FAILED)


@security_cli.command("seal-password")
@one_line_errors
def seal_password_cmd(file: Path = typer.Argument(..., help="The password file to write "
                                                   "(0600), named by *_password_file.")
                      ) -> None:
    """Seal a key's password under the master key into FILE (read from the terminal or
    standard input, never from an argument); the gateway opens it when it loads the key."""
    import sys

    from bankgate.services.tokens import seal_password_file

    if sys.stdin.isatty():
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    seal_password_file(file, password.encode("utf-8"))
    print(f"{file}: sealed under the master key")


@security_cli.command("unlock")
@one_line_errors
def unlock(token_id: str = typer.Argument(..., help="LABEL#SERIAL, as the lock message says.")
           ) -> None:
    """Unlock a token the gateway locked after wrong PINs (after checking who tried)."""
    from bankgate.services.tokens import token_failures, unlock_token
    from bankgate.settings import Settings

    url = Settings.from_env().db_url
    before = token_failures(url, token_id)
    unlock_token(url, token_id)
    print(f"token {token_id}: unlocked ({before} wrong PIN(s) cleared)")
