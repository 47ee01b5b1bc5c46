"""`bankgate alerts`: what will stop payments or syncs, or has (issue 5); `ack` one of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.flows import TOKEN, gateway, signed_in
from bankgate.cli.output import console, print_json

if TYPE_CHECKING:
    from rich.table import Table

    from bankgate.domain.alerts import Alert

__all__ = ["app"]

app = typer.Typer(invoke_without_command=True,
                  help="Alerts: certificates, token PINs and credentials that expire, locks "
                       "(告警). Without a command: list the open ones.")


@app.callback()
@one_line_errors
def list_alerts(ctx: typer.Context,
                include_all: bool = typer.Option(False, "--all",
                                                 help="Acknowledged ones too."),
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List open alerts, critical first (subjects with account numbers are masked)."""
    if ctx.invoked_subcommand is not None:
        return
    from bankgate.services.alerts import alert_view
    from bankgate.services.alerts import list_alerts as listed

    with gateway() as gw:
        found = listed(uow=gw.uow, include_acknowledged=include_all)
    if as_json:
        print_json({"alerts": [alert_view(a) for a in found]})
    elif not found:
        print("no open alerts" if not include_all else "no alerts")
    else:
        console.print(_table(found))


def _table(alerts: list[Alert]) -> Table:
    from rich.table import Table

    table = Table(title="Alerts 告警", title_justify="left")
    for column in ("id", "level", "kind", "subject", "last seen (UTC)", "seen", "message",
                   "acknowledged"):
        table.add_column(column, justify="right" if column in ("id", "seen") else "left")
    for alert in alerts:
        style = "bold red" if alert.level.value == "critical" else "yellow"
        ack = (f"{alert.acknowledged_by} {alert.acknowledged_at:%Y-%m-%d %H:%M}"
               if alert.acknowledged_at else "")
        table.add_row(str(alert.id), f"[{style}]{alert.level.value}[/]", alert.kind,
                      alert.subject, f"{alert.last_seen:%Y-%m-%d %H:%M}", str(alert.seen_count),
                      alert.message, ack)
    return table


@app.command("ack")
@one_line_errors
def ack(alert_id: int = typer.Argument(..., help="The alert's id (bankgate alerts)."),
        token: str | None = TOKEN) -> None:
    """Acknowledge an alert (treasurer_admin; audited)."""
    from bankgate.services.alerts import acknowledge_alert

    with gateway() as gw:
        done = acknowledge_alert(uow=gw.uow, alert_id=alert_id, by=signed_in(gw, token),
                                 now=gw.now)
    print(f"alert {done.id} ({done.kind}: {done.subject}) acknowledged by {done.acknowledged_by}")
