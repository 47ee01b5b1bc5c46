"""`bankgate users ...`: people, roles, API keys (run by whoever holds the store's credentials)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.settings import Settings

if TYPE_CHECKING:  # deferred: the store and services load when a verb runs, not on --help
    from bankgate.bootstrap import App

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Users, roles and API keys (用户与权限).")
_ACTOR = f"cli:{os.environ.get('USER', 'operator')}"


def _app() -> App:
    from bankgate.bootstrap import build_app

    return build_app(Settings.from_env())


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@app.command()
@one_line_errors
def add(username: str, name: str = typer.Option(..., help="Full name (as a payee would be)."),
        role: list[str] = typer.Option(..., "--role", help="maker, approver, releaser, "
                                       "treasurer_admin, auditor, payroll (repeat)."),
        account: list[str] = typer.Option([], "--account", help="An account of their own: "
                                          "they may never approve payments to it.")) -> None:
    """Add a user; the password is read from the terminal (or one line of stdin)."""
    from bankgate.services.users import create_user

    gateway = _app()
    try:
        user = create_user(uow=gateway.uow, username=username, display_name=name, roles=role,
                           password=_password(), own_accounts=account, actor=_ACTOR,
                           now=gateway.now)
    finally:
        gateway.close()
    print(f"added {user.username} ({', '.join(sorted(user.roles))})")


@app.command("list")
@one_line_errors
def list_() -> None:
    """Every user with roles and state."""
    from bankgate.services.users import list_users

    gateway = _app()
    try:
        for user in list_users(uow=gateway.uow):
            state = "active" if user.active else "disabled"
            print(f"{user.username}\t{user.display_name}\t{','.join(sorted(user.roles))}\t"
                  f"{state}")
    finally:
        gateway.close()


@app.command()
@one_line_errors
def roles(username: str, role: list[str] = typer.Option(..., "--role")) -> None:
    """Replace a user's roles (audited)."""
    from bankgate.services.users import set_roles

    gateway = _app()
    try:
        user = set_roles(uow=gateway.uow, username=username, roles=role, actor=_ACTOR,
                         now=gateway.now)
    finally:
        gateway.close()
    print(f"{user.username}: {', '.join(sorted(user.roles))}")


@app.command()
@one_line_errors
def disable(username: str) -> None:
    """Disable a user and end their sessions."""
    from bankgate.services.users import set_roles, user_named

    gateway = _app()
    try:
        current = user_named(uow=gateway.uow, username=username)
        set_roles(uow=gateway.uow, username=username, roles=current.roles, active=False,
                  actor=_ACTOR, now=gateway.now)
    finally:
        gateway.close()
    print(f"{username} disabled")


@app.command("reset-totp")
@one_line_errors
def reset_totp(username: str) -> None:
    """Revoke a user's TOTP factor (lost phone, locked after failures); they enrol anew."""
    from bankgate.services.users import reset_totp as reset

    gateway = _app()
    try:
        revoked = reset(uow=gateway.uow, username=username, actor=_ACTOR, now=gateway.now)
    finally:
        gateway.close()
    print(f"{username}: {revoked} TOTP factor(s) revoked; they enrol a new one")


@app.command("api-key")
@one_line_errors
def api_key(name: str, scope: list[str] = typer.Option(..., "--scope", help="e.g. "
                                                       "payments:create (repeat).")) -> None:
    """Create an ERP client's API key; it is printed once and stored hashed."""
    from bankgate.services.users import create_api_client

    gateway = _app()
    try:
        client, key = create_api_client(uow=gateway.uow, name=name, scopes=scope,
                                        actor=_ACTOR, now=gateway.now)
    finally:
        gateway.close()
    print(f"API key for {client.name} ({', '.join(sorted(client.scopes))}), shown once:")
    print(key)
