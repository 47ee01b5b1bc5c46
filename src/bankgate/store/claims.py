"""Employees, claims (with lines, invoices and attachments) and notifications: rows ⇄ domain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from bankgate.domain import AccountKind, AccountNumber, BankId, Money, OrderId, currency
from bankgate.domain.claims import Approval, Claim, ClaimLine, ClaimState, Employee, Invoice
from bankgate.errors import ConcurrentUpdate, NotFound
from bankgate.store._sql import insert_ignore
from bankgate.store.raw_archive import read_raw
from bankgate.store.tables_flows import (
    claim_attachments,
    claim_lines,
    claims,
    employees,
    invoices,
    notifications,
)

__all__ = ["ClaimRepository", "EmployeeRepository", "NotificationRepository"]

_cl, _iv, _em, _nt = claims.c, invoices.c, employees.c, notifications.c


class EmployeeRepository:
    """Employees and the accounts they are reimbursed to."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, employee: Employee, *, at: datetime) -> None:
        """Store a new employee."""
        self._conn.execute(employees.insert().values(**_employee_row(employee), created_at=at,
                                                     updated_at=at))

    def find(self, employee_id: str) -> Employee | None:
        """The employee with this id, if any."""
        row = self._conn.execute(select(employees).where(_em.id == employee_id)).first()
        return None if row is None else _employee(row._mapping)

    def get(self, employee_id: str) -> Employee:
        """The employee with this id."""
        found = self.find(employee_id)
        if found is None:
            raise NotFound(f"employee {employee_id!r} does not exist")
        return found

    def save(self, employee: Employee, *, expected_version: int, at: datetime) -> None:
        """Compare-and-set an employee's details and verification."""
        values = _employee_row(employee)
        values.pop("id")
        result = self._conn.execute(update(employees).where(
            _em.id == employee.id, _em.version == expected_version).values(**values,
                                                                           updated_at=at))
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"employee {employee.id} changed concurrently")


def _employee_row(e: Employee) -> dict[str, Any]:
    return {"id": e.id, "name": e.name, "department": e.department, "email": e.email,
            "username": e.username,
            "account": e.account.reveal(), "account_kind": e.account.kind.value,
            "bank": e.bank, "branch_code": e.branch_code, "verified_at": e.verified_at,
            "verification_reason": e.verification_reason[:255] if e.verification_reason
            else None, "version": e.version}


def _employee(row: Any) -> Employee:
    return Employee(id=row["id"], name=row["name"], department=row["department"],
                    email=row["email"], username=row["username"],
                    account=AccountNumber(row["account"], AccountKind(row["account_kind"])),
                    bank=BankId(row["bank"]), branch_code=row["branch_code"],
                    verified_at=row["verified_at"],
                    verification_reason=row["verification_reason"], version=row["version"])


class ClaimRepository:
    """Claims with their lines, invoices and attachments."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, claim: Claim, attachments: Sequence[tuple[str, str]]) -> None:
        """Store a new claim; its invoices must be new to the store (unique code + number).

        `attachments` are (name, sha256) of raw files already archived.
        Raises:
            IntegrityError: an invoice is already on a claim (any claim, any employee).
        """
        self._conn.execute(claims.insert().values(**_claim_row(claim),
                                                  created_at=claim.created_at))
        for line in claim.lines:
            invoice_id = self._add_invoice(line.invoice, claim.id) if line.invoice else None
            self._conn.execute(claim_lines.insert().values(
                claim_id=claim.id, line_no=line.line_no, category=line.category,
                cost_centre=line.cost_centre, description=line.description,
                expense_date=line.expense_date, amount_minor=line.amount.to_minor(),
                invoice_id=invoice_id))
        if attachments:
            self._conn.execute(claim_attachments.insert(), [
                {"claim_id": claim.id, "sha256": digest, "name": name[:255]}
                for name, digest in attachments])

    def _add_invoice(self, invoice: Invoice, claim_id: str) -> int:
        result = self._conn.execute(invoices.insert().values(
            code=invoice.code, number=invoice.number, issued_on=invoice.issued_on,
            amount_minor=invoice.amount.to_minor(), tax_minor=invoice.tax.to_minor(),
            currency=invoice.amount.currency.code, seller=invoice.seller,
            seller_tax_id=invoice.seller_tax_id, claim_id=claim_id))
        return int(result.inserted_primary_key[0])

    def claims_of_invoices(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Invoice (code, number) → the claim it is already on, for those that are."""
        found: dict[tuple[str, str], str] = {}
        for code, number in keys:
            row = self._conn.execute(select(_iv.claim_id).where(
                _iv.code == code, _iv.number == number)).first()
            if row is not None:
                found[(code, number)] = row[0]
        return found

    def get(self, claim_id: str) -> Claim:
        """The claim with its lines and approvals."""
        row = self._conn.execute(select(claims).where(_cl.id == claim_id)).first()
        if row is None:
            raise NotFound(f"claim {claim_id!r} does not exist")
        return self._claim(row._mapping)

    def _claim(self, row: Any) -> Claim:
        cur = currency(row["currency"])
        lines = self._conn.execute(
            select(claim_lines, _iv.code, _iv.number, _iv.issued_on, _iv.tax_minor, _iv.seller,
                   _iv.seller_tax_id, _iv.amount_minor.label("invoice_amount_minor"))
            .select_from(claim_lines.outerjoin(
                invoices, claim_lines.c.invoice_id == invoices.c.id))
            .where(claim_lines.c.claim_id == row["id"]).order_by(claim_lines.c.line_no))
        return _to_claim(row, [_line(r._mapping, cur) for r in lines])

    def query(self, *, state: ClaimState | None = None, employee_id: str | None = None,
             limit: int = 200) -> list[Claim]:
        """Claims, oldest first, by state or employee."""
        query = select(claims).order_by(_cl.created_at, _cl.id).limit(limit)
        if state is not None:
            query = query.where(_cl.state == state.value)
        if employee_id is not None:
            query = query.where(_cl.employee_id == employee_id)
        return [self._claim(r._mapping) for r in self._conn.execute(query)]

    def attachments(self, claim_id: str) -> list[tuple[str, str]]:
        """(name, sha256) of the claim's attachments."""
        rows = self._conn.execute(select(claim_attachments.c.name, claim_attachments.c.sha256)
                                  .where(claim_attachments.c.claim_id == claim_id)
                                  .order_by(claim_attachments.c.name))
        return [(r[0], r[1]) for r in rows]

    def raw(self, sha256: str) -> bytes:
        """The bytes of an archived file."""
        data = read_raw(self._conn, sha256)
        if data is None:
            raise NotFound(f"no file with sha256 {sha256[:16]}…")
        return data

    def save(self, claim: Claim, *, expected_version: int) -> None:
        """Compare-and-set a claim's state, reason, order and approvals."""
        values = _claim_row(claim)
        for key in ("id", "employee_id", "title", "department", "currency", "total_minor"):
            values.pop(key)
        result = self._conn.execute(update(claims).where(
            _cl.id == claim.id, _cl.version == expected_version).values(**values))
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"claim {claim.id} changed concurrently")


def _claim_row(c: Claim) -> dict[str, Any]:
    return {"id": c.id, "employee_id": c.employee_id, "title": c.title,
            "department": c.department, "currency": c.total.currency.code,
            "total_minor": c.total.to_minor(), "state": c.state.value,
            "reason": c.reason[:255] if c.reason else None, "order_id": c.order_id,
            "approvals": json.dumps([{"step": a.step, "actor": a.actor, "at": a.at.isoformat(),
                                      "approved": a.approved, "note": a.note}
                                     for a in c.approvals], ensure_ascii=False),
            "version": c.version, "updated_at": c.updated_at}


def _to_claim(row: Any, lines: list[ClaimLine]) -> Claim:
    approvals = tuple(Approval(step=a["step"], actor=a["actor"],
                               at=datetime.fromisoformat(a["at"]), approved=a["approved"],
                               note=a["note"]) for a in json.loads(row["approvals"]))
    return Claim(id=row["id"], employee_id=row["employee_id"], title=row["title"],
                 department=row["department"], lines=tuple(lines),
                 total=Money.from_minor(row["total_minor"], currency(row["currency"])),
                 state=ClaimState(row["state"]), reason=row["reason"],
                 order_id=OrderId(row["order_id"]) if row["order_id"] else None,
                 approvals=approvals, version=row["version"], created_at=row["created_at"],
                 updated_at=row["updated_at"])


def _line(row: Any, cur: Any) -> ClaimLine:
    invoice = None
    if row["invoice_id"] is not None:
        invoice = Invoice(code=row["code"], number=row["number"], issued_on=row["issued_on"],
                          amount=Money.from_minor(row["invoice_amount_minor"], cur),
                          tax=Money.from_minor(row["tax_minor"], cur), seller=row["seller"],
                          seller_tax_id=row["seller_tax_id"])
    return ClaimLine(line_no=row["line_no"], category=row["category"],
                     cost_centre=row["cost_centre"], description=row["description"],
                     expense_date=row["expense_date"],
                     amount=Money.from_minor(row["amount_minor"], cur), invoice=invoice)


class NotificationRepository:
    """The outbox of messages to people and systems: one per event, sent at least once."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, channel: str, recipient: str, subject: str, body: str, event_id: str,
            at: datetime) -> None:
        """Queue a message; the same event queued again is ignored."""
        self._conn.execute(insert_ignore(self._conn, notifications), [{
            "channel": channel, "recipient": recipient[:254], "subject": subject[:200],
            "body": body, "event_id": event_id[:80], "state": "pending", "attempts": 0,
            "created_at": at}])

    def pending(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Messages not yet sent, oldest first."""
        rows = self._conn.execute(select(notifications).where(_nt.state == "pending")
                                  .order_by(_nt.id).limit(limit))
        return [dict(r._mapping) for r in rows]

    def all(self) -> list[dict[str, Any]]:
        """Every message, oldest first."""
        return [dict(r._mapping) for r in self._conn.execute(
            select(notifications).order_by(_nt.id))]

    def mark(self, message_id: int, *, sent: bool, at: datetime, error: str | None = None,
             give_up: bool = False) -> None:
        """Record a delivery attempt."""
        state = "sent" if sent else ("failed" if give_up else "pending")
        self._conn.execute(update(notifications).where(_nt.id == message_id).values(
            state=state, attempts=_nt.attempts + 1, last_error=error[:255] if error else None,
            sent_at=at if sent else None))
