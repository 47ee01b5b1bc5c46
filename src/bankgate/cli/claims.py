"""`bankgate claims`: employees, submitting and approving claims, paying them, telling people."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.flows import TOKEN, bank_today, env, gateway, read_file, signed_in
from bankgate.cli.output import print_json
from bankgate.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Expense claims (报销).")


def _json(path: Path) -> object:
    try:
        return json.loads(read_file(path))
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from exc


@app.command("employee")
@one_line_errors
def employee(file: Path = typer.Argument(..., help="An employee (or a list) as JSON.")) -> None:
    """Register or update employees and the accounts they are reimbursed to."""
    from bankgate.services.claims import register_employee

    data = _json(file)
    with gateway() as gw:
        for item in data if isinstance(data, list) else [data]:
            done = register_employee(uow=gw.uow, data=item, now=gw.now)
            print(f"{done.id} {done.name}: {done.bank} {done.account}")


@app.command("submit")
@one_line_errors
def submit(file: Path = typer.Argument(..., help="The claim as JSON (docs/flows.md)."),
           attach: list[Path] = typer.Option([], "--attach", help="An invoice scan or PDF."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Submit a claim with its invoices; refused whole with every problem named."""
    from bankgate.services.claims import submit_claim
    from bankgate.services.flows_queries import claim_view

    files = [(path.name, read_file(path)) for path in attach]
    with gateway() as gw:
        claim = submit_claim(uow=gw.uow, data=_json(file), attachments=files, actor="cli",
                             now=gw.now, today=bank_today())
    if as_json:
        print_json(claim_view(claim))
    else:
        print(f"{claim.id}: {claim.total} in {len(claim.lines)} line(s), {claim.state.value}")


@app.command("list")
@one_line_errors
def list_(state: str | None = typer.Option(None, help="submitted, approved, paying, paid…"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Claims, oldest first."""
    from bankgate.services.flows_queries import claim_view, claims

    with gateway() as gw:
        found = claims(uow=gw.uow, state=state)
    if as_json:
        print_json({"claims": [claim_view(c) for c in found]})
        return
    for claim in found:
        print(f"{claim.id}  {claim.employee_id}  {claim.total}  {claim.state.value}"
              f"{'  ' + claim.reason if claim.reason else ''}")


@app.command("show")
@one_line_errors
def show(claim_id: str) -> None:
    """One claim with its lines, chain and approvals (JSON)."""
    from bankgate.services.flows_queries import claim_view, claims

    with gateway() as gw:
        [claim] = claims(uow=gw.uow, claim_id=claim_id)
    print_json(claim_view(claim))


@app.command("approve")
@one_line_errors
def approve(claim_id: str, reject: bool = typer.Option(False, "--reject"),
            note: str = typer.Option("", help="Why (kept in the audit log)."),
            token: str | None = TOKEN) -> None:
    """Decide the claim's next step as the signed-in person."""
    from bankgate.services.claims import Approver, approve_claim

    with gateway() as gw:
        user = signed_in(gw, token)
        claim = approve_claim(uow=gw.uow, claim_id=claim_id, approved=not reject, note=note,
                              now=gw.now, approver=Approver(user.actor, frozenset(user.roles)))
    print(f"{claim.id}: {claim.state.value}")


@app.command("pay")
@one_line_errors
def pay(debtor: str = typer.Option(..., help="Our account id claims are paid from."),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Pay every claim approved before the last cut-off; follow those already paying."""
    from bankgate.services.claim_payments import follow_claims, pay_approved_claims

    with gateway() as gw:
        run = pay_approved_claims(uow=gw.uow, channels=gw.channels, debtor_id=debtor,
                                  now=gw.now, today=bank_today(),
                                  webhook_url=env("BANKGATE_WEBHOOK_URL"))
        moved = follow_claims(uow=gw.uow, now=gw.now, webhook_url=env("BANKGATE_WEBHOOK_URL"))
    result = {"cutoff": run.cutoff.isoformat(), "paying": [c.id for c in run.paying],
              "blocked": {c.id: c.reason for c in run.blocked}, "waiting": run.waiting,
              "followed": moved}
    if as_json:
        print_json(result)
    else:
        print(f"cut-off {run.cutoff:%Y-%m-%d %H:%M} UTC: {len(run.paying)} paying, "
              f"{len(run.blocked)} blocked, {run.waiting} waiting; followed {moved}")


@app.command("notify")
@one_line_errors
def notify() -> None:
    """Send the queued mail (BANKGATE_SMTP_HOST/PORT/FROM) and webhooks (BANKGATE_WEBHOOK_*)."""
    from bankgate.notify import Mailer, SmtpConfig, WebhookSender
    from bankgate.services.claim_payments import deliver_notifications

    host, url = env("BANKGATE_SMTP_HOST"), env("BANKGATE_WEBHOOK_URL")
    mailer = Mailer(SmtpConfig(host=host, port=int(env("BANKGATE_SMTP_PORT") or "25"),
                               sender=env("BANKGATE_SMTP_FROM") or "bankgate@localhost",
                               starttls=env("BANKGATE_SMTP_STARTTLS") == "1")) if host else None
    secret = (env("BANKGATE_WEBHOOK_SECRET") or "").encode()
    hook = WebhookSender(url, secret) if url else None
    with gateway() as gw:
        counts = deliver_notifications(uow=gw.uow, now=gw.now, mailer=mailer, webhook=hook)
    if hook:
        hook.close()
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
