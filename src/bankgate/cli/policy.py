"""`bankgate policy ...`: explain an order's decision, simulate a policy, change it (4 eyes)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.output import console, print_json
from bankgate.errors import DomainError, PolicyError
from bankgate.settings import Settings

if TYPE_CHECKING:  # deferred: the store and services load when a verb runs, not on --help
    from bankgate.bootstrap import App

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="The approval policy (审批策略): explain, simulate, "
                  "change.")
P = ParamSpec("P")
R = TypeVar("R")


class BadPolicy(DomainError):
    """A policy file that does not load, or a change the policy rules refuse: bad input."""


def _policy_errors_are_bad_input(command: Callable[P, R]) -> Callable[P, R]:
    """A PolicyError is bad input: `one_line_errors` prints it and exits 2."""
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PolicyError as exc:
            raise BadPolicy(str(exc)) from exc

    return wrapper


def _app() -> App:
    from bankgate.bootstrap import build_app

    return build_app(Settings.from_env())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from exc


@app.command()
@one_line_errors
def explain(order: str = typer.Argument(..., help="The payment order id.")) -> None:
    """Which rule applied to ORDER and why; what the policy in force says now; approvals."""
    from bankgate.services.policy_views import explain_order

    gateway = _app()
    try:
        print(explain_order(uow=gateway.uow, order_id=order, now=gateway.now))
    finally:
        gateway.close()


@app.command()
@one_line_errors
@_policy_errors_are_bad_input
def simulate(file: Path = typer.Argument(..., help="A policy file (TOML)."),
             limit: int = typer.Option(200, min=1, max=10_000, help="Latest orders to try."),
             as_json: bool = typer.Option(False, "--json", help="One JSON document.")) -> None:
    """What the policy in FILE would require of the latest orders, against the one in force."""
    from bankgate.services.policy_views import simulate as run

    gateway = _app()
    try:
        rows = run(uow=gateway.uow, content=_read(file), origin=str(file), now=gateway.now,
                   limit=limit)
    finally:
        gateway.close()
    if as_json:
        print_json({"policy": str(file), "orders": [
            {"id": r.order.id, "amount": f"{r.order.amount.amount:f}",
             "currency": r.order.amount.currency.code, "flow": r.order.flow.value,
             "in_force": {"rule": r.in_force.rule,
                          "requires": r.in_force.requirement.describe()},
             "candidate": {"rule": r.candidate.rule,
                           "requires": r.candidate.requirement.describe()}} for r in rows]})
        return
    from rich.table import Table

    table = Table(title=f"{file} against the policy in force ({len(rows)} orders)")
    for column in ("order", "amount", "flow", "in force: rule → requires",
                   "candidate: rule → requires", ""):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for r in rows:
        now_, then = r.in_force.requirement.describe(), r.candidate.requirement.describe()
        table.add_row(r.order.id[-10:], str(r.order.amount), r.order.flow.value,
                      f"{r.in_force.rule} → {now_}", f"{r.candidate.rule} → {then}",
                      "" if now_ == then else "changed")
    console.print(table)


@app.command()
@one_line_errors
def show() -> None:
    """The policy in force: name, version, hash, tiers and signals."""
    from bankgate.services.policy_views import policy_view

    gateway = _app()
    try:
        view = policy_view(uow=gateway.uow)
    finally:
        gateway.close()
    print(f"policy {view['name']!r} version {view['version']} sha256 {view['hash']}")
    print(f"tiers: {', '.join(view['tiers']) or '-'}; escalations: "
          f"{', '.join(view['escalations']) or '-'}")


@app.command()
@one_line_errors
@_policy_errors_are_bad_input
def check(file: Path = typer.Argument(..., help="A policy file (TOML).")) -> None:
    """Validate FILE without installing it; print its hash."""
    from bankgate.policy import load_policy

    policy = load_policy(_read(file), origin=str(file))
    print(f"{file}: valid policy {policy.name!r}, {len(policy.tiers)} tiers, "
          f"{len(policy.escalations)} escalations, sha256 {policy.hash}")


@app.command()
@one_line_errors
@_policy_errors_are_bad_input
def propose(file: Path = typer.Argument(..., help="A policy file (TOML)."),
            by: str = typer.Option(..., "--as", help="The treasurer_admin proposing it.")) -> None:
    """Store FILE as a proposed policy; another treasurer_admin activates it."""
    from bankgate.services.policies import propose_policy
    from bankgate.services.users import user_named

    gateway = _app()
    try:
        version = propose_policy(uow=gateway.uow, content=_read(file), origin=str(file),
                                 by=user_named(uow=gateway.uow, username=by), now=gateway.now)
    finally:
        gateway.close()
    print(f"proposed as version {version}; activate with `bankgate policy activate {version} "
          "--as OTHER_ADMIN`")


@app.command()
@one_line_errors
@_policy_errors_are_bad_input
def activate(version: int = typer.Argument(..., help="The proposed version."),
             by: str = typer.Option(..., "--as", help="A treasurer_admin other than the "
                                    "proposer.")) -> None:
    """Put a proposed policy version in force."""
    from bankgate.services.policies import activate_policy
    from bankgate.services.users import user_named

    gateway = _app()
    try:
        policy = activate_policy(uow=gateway.uow, version=version,
                                 by=user_named(uow=gateway.uow, username=by), now=gateway.now)
    finally:
        gateway.close()
    print(f"policy {policy.name!r} version {policy.version} is in force (sha256 {policy.hash})")


@app.command("verify-controls")
@one_line_errors
def verify_controls() -> None:
    """INV-4: every released order holds the approvals its decision required. Exit 1 if not."""
    from bankgate.services.controls_check import check_controls

    gateway = _app()
    try:
        problems = check_controls(uow=gateway.uow)
    finally:
        gateway.close()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "controls held (INV-4)")
    if problems:
        raise typer.Exit(1)
