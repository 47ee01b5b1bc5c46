"""Payroll runs and their lines: rows ⇄ `PayrollRun` / `PayrollLine`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from bankgate.domain import AccountId, AccountKind, AccountNumber, BankId, Money, OrderId, currency
from bankgate.domain.payroll import LineState, PayrollLine, PayrollRun
from bankgate.errors import ConcurrentUpdate, NotFound
from bankgate.store.tables_flows import payroll_lines, payroll_runs

__all__ = ["PayrollRepository"]

_pl = payroll_lines.c


class PayrollRepository:
    """Payroll runs (one per file content) and their lines."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, run: PayrollRun, lines: Sequence[PayrollLine]) -> None:
        """Store a run with its lines (a second run of the same content fails: unique)."""
        self._conn.execute(payroll_runs.insert().values(
            id=run.id, content_sha256=run.content_sha256, origin=run.origin[:255],
            period=run.period, debtor_id=run.debtor, currency=run.total.currency.code,
            line_count=run.line_count, total_minor=run.total.to_minor(), actor=run.actor[:80],
            created_at=run.created_at))
        self._conn.execute(payroll_lines.insert(), [_line_row(line) for line in lines])

    def by_content(self, sha256: str) -> PayrollRun | None:
        """The run made from a file with this content hash, if any."""
        row = self._conn.execute(select(payroll_runs).where(
            payroll_runs.c.content_sha256 == sha256)).first()
        return None if row is None else _run(row._mapping)

    def get(self, run_id: str) -> PayrollRun:
        """The run with this id."""
        row = self._conn.execute(select(payroll_runs).where(payroll_runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"payroll run {run_id!r} does not exist")
        return _run(row._mapping)

    def runs(self, *, limit: int = 50) -> list[PayrollRun]:
        """Runs, newest first."""
        rows = self._conn.execute(select(payroll_runs)
                                  .order_by(payroll_runs.c.created_at.desc()).limit(limit))
        return [_run(r._mapping) for r in rows]

    def lines(self, run_id: str) -> list[PayrollLine]:
        """The run's lines in file order."""
        rows = self._conn.execute(select(payroll_lines).where(_pl.run_id == run_id)
                                  .order_by(_pl.line_no))
        return [_line(r._mapping) for r in rows]

    def line(self, run_id: str, employee_id: str) -> PayrollLine:
        """One employee's line in a run."""
        row = self._conn.execute(select(payroll_lines).where(
            _pl.run_id == run_id, _pl.employee_id == employee_id)).first()
        if row is None:
            raise NotFound(f"payroll run {run_id!r} has no line for employee {employee_id!r}")
        return _line(row._mapping)

    def save_line(self, line: PayrollLine, *, expected_version: int) -> None:
        """Compare-and-set a changed line (new details, state, order, attempts)."""
        values = _line_row(line)
        for key in ("run_id", "line_no", "row", "employee_id"):
            values.pop(key)
        result = self._conn.execute(update(payroll_lines).where(
            _pl.run_id == line.run_id, _pl.line_no == line.line_no,
            _pl.version == expected_version).values(**values))
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"payroll line {line.run_id}/{line.employee_id} changed "
                                   "concurrently")


def _line_row(line: PayrollLine) -> dict[str, Any]:
    return {"run_id": line.run_id, "line_no": line.line_no, "row": line.where[:40],
            "employee_id": line.employee_id, "name": line.name,
            "account": line.account.reveal(), "account_kind": line.account.kind.value,
            "bank": line.bank, "branch_code": line.branch_code,
            "amount_minor": line.amount.to_minor(), "currency": line.amount.currency.code,
            "remittance": line.remittance, "state": line.state.value,
            "reason": line.reason[:255] if line.reason else None, "order_id": line.order_id,
            "attempts": line.attempts, "version": line.version}


def _line(row: Any) -> PayrollLine:
    return PayrollLine(
        run_id=row["run_id"], line_no=row["line_no"], where=row["row"],
        employee_id=row["employee_id"], name=row["name"],
        account=AccountNumber(row["account"], AccountKind(row["account_kind"])),
        bank=BankId(row["bank"]), branch_code=row["branch_code"],
        amount=Money.from_minor(row["amount_minor"], currency(row["currency"])),
        remittance=row["remittance"], state=LineState(row["state"]), reason=row["reason"],
        order_id=OrderId(row["order_id"]) if row["order_id"] else None,
        attempts=row["attempts"], version=row["version"])


def _run(row: Any) -> PayrollRun:
    return PayrollRun(
        id=row["id"], content_sha256=row["content_sha256"], origin=row["origin"],
        period=row["period"], debtor=AccountId(row["debtor_id"]),
        total=Money.from_minor(row["total_minor"], currency(row["currency"])),
        line_count=row["line_count"], actor=row["actor"], created_at=row["created_at"])
