"""`bankgate transfers`: money between our accounts, sweeps, proposals, routes."""

from __future__ import annotations

from pathlib import Path

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.flows import TOKEN, bank_today, gateway, signed_in
from bankgate.cli.output import print_json

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Internal transfers and cash pooling (资金调拨).")


@app.command("make")
@one_line_errors
def make(source: str, target: str, amount: str,
         cur: str = typer.Option("CNY", "--currency"), token: str | None = TOKEN) -> None:
    """Move AMOUNT from account SOURCE to account TARGET (ids of our accounts)."""
    from bankgate.domain import currency, parse_amount
    from bankgate.services.transfers import transfer

    money = parse_amount(amount, currency(cur))
    with gateway() as gw:
        user = signed_in(gw, token)
        made = transfer(uow=gw.uow, source_id=source, target_id=target, amount=money,
                        actor=user.actor,
                        now=gw.now, today=bank_today())
    print(f"{made.id}: {made.amount} {source} → {target}, {made.state.value}")


@app.command("sweep")
@one_line_errors
def sweep_(rules: Path = typer.Argument(..., help="Sweep rules (TOML, docs/flows.md)."),
           token: str | None = TOKEN) -> None:
    """Evaluate the sweep rules on balances fetched now; run or propose their moves."""
    from bankgate.services.transfers import load_sweep_plan, sweep

    plan = load_sweep_plan(rules)
    with gateway() as gw:
        user = signed_in(gw, token)
        run = sweep(uow=gw.uow, channels=gw.channels, plan=plan, now=gw.now,
                    today=bank_today(), actor=user.actor)
    print("\n".join(run.outcomes))


@app.command("decide")
@one_line_errors
def decide(transfer_id: str, decline: bool = typer.Option(False, "--decline"),
           token: str | None = TOKEN) -> None:
    """Run (approve) or decline a proposed transfer."""
    from bankgate.services.transfers import decide_transfer

    with gateway() as gw:
        user = signed_in(gw, token)
        done = decide_transfer(uow=gw.uow, transfer_id=transfer_id, approve=not decline,
                               actor=user.actor, now=gw.now, today=bank_today())
    print(f"{done.id}: {done.state.value}")


@app.command("follow")
@one_line_errors
def follow() -> None:
    """Advance open transfers by their orders and the target banks' entries."""
    from bankgate.services.transfers import follow_transfers

    with gateway() as gw:
        moved = follow_transfers(uow=gw.uow, channels=gw.channels, now=gw.now)
    print(moved or "nothing moved")


@app.command("list")
@one_line_errors
def list_(state: str | None = typer.Option(None), as_json: bool = typer.Option(False, "--json")
          ) -> None:
    """Transfers, oldest first."""
    from bankgate.services.flows_queries import transfer_view, transfers

    with gateway() as gw:
        found = [transfer_view(t) for t in transfers(uow=gw.uow, state=state)]
    if as_json:
        print_json({"transfers": found})
        return
    for t in found:
        print(f"{t['id']}  {t['from']} → {t['to']}  {t['amount']} {t['currency']}  "
              f"{t['state']}{'  ' + t['failure'] if t['failure'] else ''}")


@app.command("route")
@one_line_errors
def route(order_id: str) -> None:
    """How a payment order travels, and why (its stored route)."""
    from bankgate.services.flows_queries import route_of

    with gateway() as gw:
        found = route_of(uow=gw.uow, order_id=order_id)
    print(f"{order_id}: {found['rail']} — {found['explanation']}")
    for line in found["considered"]:
        print(f"  {line}")
