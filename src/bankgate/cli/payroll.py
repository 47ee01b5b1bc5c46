"""`bankgate payroll`: import a payroll file, see each employee's bank status, pay a line again."""

from __future__ import annotations

from pathlib import Path

import typer

from bankgate.cli.errors import one_line_errors
from bankgate.cli.flows import TOKEN, bank_today, gateway, read_file, signed_in, viewer
from bankgate.cli.output import print_json

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Payroll (代发工资).")


@app.command("import")
@one_line_errors
def import_(file: Path = typer.Argument(..., help="CSV or .xlsx (docs/flows.md, Payroll)."),
            token: str | None = TOKEN) -> None:
    """Import a payroll file: all or nothing, once per content; verified lines are paid."""
    from bankgate.services.payroll import import_payroll

    content = read_file(file)
    with gateway() as gw:
        user = signed_in(gw, token)
        done = import_payroll(uow=gw.uow, channels=gw.channels, content=content,
                              origin=file.name, actor=user.actor, now=gw.now,
                              today=bank_today())
    failed = [line for line in done.lines if line.reason]
    verb = "imported" if done.created else "already imported earlier; nothing added:"
    print(f"{file.name}: {verb} run {done.run.id}, {len(done.lines)} lines, "
          f"{len(failed)} not paid")
    for line in failed:
        print(f"  {line.where} {line.employee_id}: {line.reason}")


@app.command("show")
@one_line_errors
def show(run_id: str, as_json: bool = typer.Option(False, "--json"),
         token: str | None = TOKEN) -> None:
    """Every employee's bank status (amounts only with the payroll role)."""
    from bankgate.services.payroll import payroll_report

    with gateway() as gw:
        user = viewer(gw, token)
        report = payroll_report(uow=gw.uow, run_id=run_id,
                                roles=frozenset(user.roles) if user else frozenset())
    if as_json:
        print_json({"run": run_id, "total": report.total, "counts": report.counts(),
                    "lines": [{"employee_id": v.employee_id, "name": v.name,
                               "account": v.account, "amount": v.amount,
                               "status": v.status.value, "reason": v.reason}
                              for v in report.lines]})
        return
    print(f"{run_id} {report.run.period}: total {report.total or '(hidden)'}; "
          f"{report.counts()}")
    for v in report.lines:
        print(f"  {v.employee_id} {v.name} {v.account} {v.amount or '***'} {v.status.value}"
              f"{'  ' + v.reason if v.reason else ''}")


@app.command("reissue")
@one_line_errors
def reissue(run_id: str, employee_id: str,
            account: str | None = typer.Option(None, help="The corrected account number."),
            name: str | None = typer.Option(None), bank: str | None = typer.Option(None),
            token: str | None = TOKEN) -> None:
    """Pay a rejected, returned or unverified line again (verified first)."""
    from bankgate.domain import AccountNumber
    from bankgate.services.payroll import reissue_line

    with gateway() as gw:
        user = signed_in(gw, token)
        line = reissue_line(uow=gw.uow, channels=gw.channels, run_id=run_id,
                            employee_id=employee_id, actor=user.actor, now=gw.now,
                            today=bank_today(), name=name, bank=bank,
                            account=AccountNumber.parse(account) if account else None)
    print(f"{employee_id}: {line.state.value}{' — ' + line.reason if line.reason else ''}")
