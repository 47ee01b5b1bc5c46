"""`bankgate payments awaiting-confirmation`: orders held for 网银二次确认 (B-19)."""

from __future__ import annotations

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.flows import gateway
from bankgate.cli.output import print_json

__all__ = ["awaiting"]


@one_line_errors
def awaiting(older_than_h: float = typer.Option(0.0, "--older-than-h", min=0.0,
                                                help="Only orders waiting this many hours."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Orders awaiting the second confirmation in the bank's portal, oldest first."""
    from bankgate.services.confirmations import awaiting_confirmation

    with gateway() as gw:
        held = awaiting_confirmation(uow=gw.uow, now=gw.now, older_than_s=older_than_h * 3600)
    if as_json:
        print_json({"awaiting_bank_confirmation": [item.to_dict() for item in held]})
        return
    for item in held:
        print(f"{item.order_id}  {item.bank}  {item.amount} {item.currency}  {item.payee}  "
              f"waiting {item.waiting_s / 3600:.1f} h (since {item.since:%Y-%m-%d %H:%M} UTC)")
    print(f"{len(held)} order(s) awaiting the bank-side confirmation (网银二次确认)")
