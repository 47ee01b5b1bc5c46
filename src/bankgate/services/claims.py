"""Expense claims (报销): employees, submitting a claim with invoices, the approval chain.

A claim is checked whole (every line, every invoice; InvalidClaim lists each problem with its
place) and stored in one transaction with its attachments (kept once by SHA-256). An invoice
already on any claim of any employee is refused: looked up first for a clear message, and
held by the store's unique constraint so that two claims racing cannot both get it. The
chain comes from the claim rules (services/claim_rules.py) plus what the payment policy
requires; each approver must hold a role of their step, may not approve their own claim,
and may not approve two steps of one claim. Paying approved claims: services/claim_payments.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy.exc import IntegrityError

from bankgate.domain import AccountNumber, Money, bank_id, clean_text, currency, parse_amount
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.claims import (
    Approval,
    Claim,
    ClaimLine,
    ClaimState,
    Employee,
    IllegalClaimTransition,
    Invoice,
    check_lines,
    move_claim,
    require_invoice_shape,
)
from bankgate.errors import DomainError, DutyConflict, PermissionDenied
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.claim_rules import ClaimRules, Step, load_claim_rules
from bankgate.services.payments import Created
from bankgate.services.queries import earlier_answer
from bankgate.store import UnitOfWork
from bankgate.store.idempotency import StoredAnswer

__all__ = ["Approver", "DuplicateInvoice", "InvalidClaim", "InvalidEmployee", "approve_claim",
           "chain_of", "parse_claim", "register_employee", "submit_claim", "submit_claim_once"]

MAX_LINES: Final = 200
MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
_CLAIM_FIELDS: Final = {"employee_id", "title", "lines", "currency"}
_LINE_FIELDS: Final = {"category", "cost_centre", "description", "expense_date", "amount",
                       "invoice"}
_INVOICE_FIELDS: Final = {"code", "number", "issued_on", "amount", "tax", "seller",
                          "seller_tax_id"}

PolicyApprovals = Callable[[Claim], int]


class InvalidClaim(DomainError):
    """A claim refused whole; `problems` lists each one with its place."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"the claim is refused, {len(problems)} problem(s): "
                         + "; ".join(self.problems[:8]))


class InvalidEmployee(DomainError):
    """An employee record that cannot be stored; says which field."""


class DuplicateInvoice(DomainError):
    """An invoice that is already on a claim (any claim of any employee)."""

    code = "duplicate_invoice"


@dataclass(frozen=True, slots=True)
class Approver:
    """Who decides a step: the actor, their roles, and the employee they are (if one)."""

    actor: str
    roles: frozenset[str]
    employee_id: str | None = None


def register_employee(*, uow: UowFactory, data: Mapping[str, Any],
                      now: Callable[[], datetime]) -> Employee:
    """Add an employee or update one; a changed account must be verified again."""
    employee = _employee(data)

    def work(unit: UnitOfWork) -> Employee:
        known = unit.flows.employees.find(employee.id)
        if known is None:
            unit.flows.employees.add(employee, at=now())
            return employee
        same_account = (known.account, known.bank, known.name) == (
            employee.account, employee.bank, employee.name)
        updated = replace(employee, version=known.version + 1,
                          verified_at=known.verified_at if same_account else None)
        unit.flows.employees.save(updated, expected_version=known.version, at=now())
        return updated

    return in_transaction(uow, work)


def _employee(data: Mapping[str, Any]) -> Employee:
    unknown = sorted(set(data) - {"id", "name", "department", "email", "account", "bank",
                                  "branch_code", "username"})
    if unknown:
        raise InvalidEmployee(f"employee.{unknown[0]}: not a field of an employee")
    try:
        return Employee(
            id=clean_text(data.get("id"), field="employee.id", max_len=40),
            name=clean_text(data.get("name"), field="employee.name", max_len=140),
            department=clean_text(data.get("department"), field="employee.department",
                                  max_len=60),
            email=clean_text(data.get("email"), field="employee.email", max_len=254,
                             required=False) or None,
            account=AccountNumber.parse(_text(data.get("account"), "employee.account"),
                                        field="employee.account"),
            bank=bank_id(_text(data.get("bank"), "employee.bank"), field="employee.bank"),
            branch_code=data.get("branch_code") or None,
            username=clean_text(data.get("username"), field="employee.username", max_len=64,
                                required=False) or None)
    except DomainError as exc:
        raise InvalidEmployee(f"the employee is refused: {exc}") from exc


def parse_claim(data: Any, *, rules: ClaimRules, today: date) -> tuple[str, str, list[ClaimLine]]:
    """(employee id, title, lines) of a claim request, or InvalidClaim listing every problem."""
    if not isinstance(data, Mapping):
        raise InvalidClaim(["the claim must be an object"])
    problems = [f"{k}: not a field of a claim" for k in sorted(set(data) - _CLAIM_FIELDS)]
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list) or not 1 <= len(raw_lines) <= MAX_LINES:
        problems.append(f"lines: expected a list of 1 to {MAX_LINES} lines")
        raw_lines = []
    cur = _guard(problems, "currency", lambda: currency(_text(data.get("currency", "CNY"),
                                                              "currency")))
    lines = [line for i, raw in enumerate(raw_lines, start=1)
             if (line := _line(raw, i, cur or currency("CNY"), problems)) is not None]
    employee = _guard(problems, "employee_id", lambda: clean_text(
        data.get("employee_id"), field="employee_id", max_len=40))
    title = _guard(problems, "title", lambda: clean_text(data.get("title"), field="title",
                                                         max_len=140))
    if not problems:
        problems += check_lines(lines, today=today, categories=rules.categories)
    if problems:
        raise InvalidClaim(problems)
    return str(employee), str(title), lines


def _guard(problems: list[str], where: str, build: Callable[[], Any]) -> Any:
    try:
        return build()
    except DomainError as exc:
        message = str(exc)
        problems.append(message if message.startswith(where) else f"{where}: {message}")
        return None


def _line(raw: Any, number: int, cur: Any, problems: list[str]) -> ClaimLine | None:
    where = f"lines[{number}]"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected an object")
        return None
    before = len(problems)
    problems += [f"{where}.{k}: not a field of a claim line"
                 for k in sorted(set(raw) - _LINE_FIELDS)]
    text = {k: _guard(problems, f"{where}.{k}", lambda k=k, n=n: clean_text(
        raw.get(k), field=f"{where}.{k}", max_len=n))
        for k, n in (("category", 24), ("cost_centre", 40), ("description", 140))}
    day = _guard(problems, f"{where}.expense_date", lambda: _date(raw.get("expense_date")))
    amount = _guard(problems, f"{where}.amount", lambda: parse_amount(
        _text(raw.get("amount"), "amount"), cur, field=f"{where}.amount"))
    invoice = None
    if raw.get("invoice") is not None:
        invoice = _invoice(raw["invoice"], f"{where}.invoice", cur, problems)
    if len(problems) > before:
        return None
    return ClaimLine(line_no=number, category=text["category"], cost_centre=text["cost_centre"],
                     description=text["description"], expense_date=day, amount=amount,
                     invoice=invoice)


def _invoice(raw: Any, where: str, cur: Any, problems: list[str]) -> Invoice | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected an object")
        return None
    before = len(problems)
    problems += [f"{where}.{k}: not a field of an invoice"
                 for k in sorted(set(raw) - _INVOICE_FIELDS)]
    code, number = str(raw.get("code") or ""), str(raw.get("number") or "")
    _guard(problems, where, lambda: require_invoice_shape(code, number, where=where))
    issued = _guard(problems, f"{where}.issued_on", lambda: _date(raw.get("issued_on")))
    amount = _guard(problems, f"{where}.amount", lambda: parse_amount(
        _text(raw.get("amount"), "amount"), cur, field=f"{where}.amount"))
    tax = _guard(problems, f"{where}.tax", lambda: parse_amount(
        _text(raw.get("tax", "0.00"), "tax"), cur, field=f"{where}.tax"))
    seller = _guard(problems, f"{where}.seller", lambda: clean_text(
        raw.get("seller"), field=f"{where}.seller", max_len=140))
    if len(problems) > before:
        return None
    return Invoice(code=code, number=number, issued_on=issued, amount=amount, tax=tax,
                   seller=seller, seller_tax_id=raw.get("seller_tax_id") or None)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise DomainError(f"expected text, got {type(value).__name__} {value!r:.40}")
    return value


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(_text(value, "date"))
    except ValueError as exc:
        raise DomainError(f"{value!r} is not a date like 2026-11-20") from exc


def submit_claim_once(*, uow: UowFactory, data: Any,
                      attachments: Sequence[tuple[str, bytes]], actor: str,
                      now: Callable[[], datetime], today: date, scope: str, key: str,
                      request_hash: str, render: Callable[[Claim], str]) -> Created:
    """Submit at most once per Idempotency-Key: the claim and the answer commit together."""
    earlier = earlier_answer(uow=uow, scope=scope, key=key, request_hash=request_hash)
    if earlier is not None:
        return earlier

    def remember(unit: UnitOfWork, claim: Claim) -> None:
        unit.idempotency.put(scope, key, StoredAnswer(request_hash, 201, render(claim)),
                             at=now())

    try:
        claim = submit_claim(uow=uow, data=data, attachments=attachments, actor=actor,
                             now=now, today=today, after=remember)
    except DuplicateInvoice:  # perhaps our twin request, committed first: replay its answer
        twin = earlier_answer(uow=uow, scope=scope, key=key, request_hash=request_hash)
        if twin is None:
            raise
        return twin
    return Created(201, render(claim), replayed=False)


def submit_claim(*, uow: UowFactory, data: Any, attachments: Sequence[tuple[str, bytes]],
                 actor: str, now: Callable[[], datetime], today: date,
                 rules: ClaimRules | None = None,
                 after: Callable[[UnitOfWork, Claim], None] | None = None) -> Claim:
    """Check and store a claim with its attachments, all or nothing.

    Raises:
        InvalidClaim: naming every problem; DuplicateInvoice: an invoice is already claimed.
    """
    rules = rules or load_claim_rules()
    employee_id, title, lines = parse_claim(data, rules=rules, today=today)
    for name, content in attachments:
        if len(content) > MAX_ATTACHMENT_BYTES or not content:
            raise InvalidClaim([f"attachment {name!r}: {len(content)} bytes; 1 to "
                                f"{MAX_ATTACHMENT_BYTES} allowed"])
    at = now()
    claim_id = f"cl_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"
    try:
        def work(unit: UnitOfWork) -> Claim:
            claim = _store(unit, claim_id, employee_id, title, lines, attachments, actor, at)
            if after is not None:
                after(unit, claim)
            return claim

        return in_transaction(uow, work)
    except IntegrityError as exc:  # the unique invoice key: another claim took it first
        raise DuplicateInvoice("an invoice of this claim was claimed at the same time by "
                               "another claim") from exc


def _store(unit: UnitOfWork, claim_id: str, employee_id: str, title: str,
           lines: list[ClaimLine], attachments: Sequence[tuple[str, bytes]], actor: str,
           at: datetime) -> Claim:
    employee = unit.flows.employees.find(employee_id)
    if employee is None:
        raise InvalidClaim([f"employee_id: {employee_id!r} is not a registered employee"])
    keys = [line.invoice.key for line in lines if line.invoice]
    taken = unit.flows.claims.claims_of_invoices(keys)
    if taken:
        (code, number), other = next(iter(taken.items()))
        raise DuplicateInvoice(f"invoice {code + '/' if code else ''}{number} is already "
                               f"claimed on claim {other}; an invoice is reimbursed once")
    total = sum((line.amount for line in lines), Money.zero(lines[0].amount.currency))
    claim = Claim(id=claim_id, employee_id=employee_id, title=title,
                  department=employee.department, lines=tuple(lines), total=total,
                  state=ClaimState.SUBMITTED, reason=None, order_id=None, approvals=(),
                  version=1, created_at=at, updated_at=at)
    stored = [(name, unit.statements.archive_raw(content, name=name[:255],
                                                 origin=f"claim:{claim_id}", at=at))
              for name, content in attachments]
    unit.flows.claims.add(claim, stored)
    unit.audit.append(AuditRecord(at=at, actor=actor, action="claim.submitted",
                                  subject_kind="claim", subject_id=claim_id,
                                  to_status=claim.state.value,
                                  detail={"employee": employee_id, "total": str(total),
                                          "lines": len(lines), "attachments": len(stored)}))
    return claim


def chain_of(claim: Claim, *, rules: ClaimRules | None = None,
             policy_approvals: PolicyApprovals | None = None) -> tuple[Step, ...]:
    """The approval steps of `claim` (rules, plus what the payment policy adds)."""
    extra = policy_approvals(claim) if policy_approvals else 0
    return (rules or load_claim_rules()).chain(claim, policy_approvals=extra)


def approve_claim(*, uow: UowFactory, claim_id: str, approver: Approver, approved: bool,
                  now: Callable[[], datetime], note: str = "", rules: ClaimRules | None = None,
                  policy_approvals: PolicyApprovals | None = None) -> Claim:
    """Decide the claim's next step; the last approval makes it approved, a refusal rejects.

    Raises:
        PermissionDenied: the approver holds no role of the step.
        DutyConflict: the approver's own claim, or a second step by the same person (A-05).
    """
    rules = rules or load_claim_rules()

    def work(unit: UnitOfWork) -> Claim:
        claim = unit.flows.claims.get(claim_id)
        steps = chain_of(claim, rules=rules, policy_approvals=policy_approvals)
        claimant = unit.flows.employees.get(claim.employee_id)
        step = _next_step(claim, steps, approver, claimant)
        at = now()
        decided = replace(claim, approvals=(*claim.approvals, Approval(
            step=step.name, actor=approver.actor, at=at, approved=approved, note=note)))
        done = len(decided.approvals) == len(steps)
        if not approved:
            decided = move_claim(decided, ClaimState.REJECTED, at=at,
                                 reason=f"rejected at step {step.name} by {approver.actor}"
                                        + (f": {note}" if note else ""))
        elif done:
            decided = move_claim(decided, ClaimState.APPROVED, at=at)
        else:
            decided = replace(decided, version=claim.version + 1, updated_at=at)
        unit.flows.claims.save(decided, expected_version=claim.version)
        unit.audit.append(AuditRecord(
            at=at, actor=approver.actor, action="claim.approval", subject_kind="claim",
            subject_id=claim.id, from_status=claim.state.value, to_status=decided.state.value,
            detail={"step": step.name, "approved": approved, "why": step.why, "note": note}))
        return decided

    return in_transaction(uow, work)


def _next_step(claim: Claim, steps: Sequence[Step], approver: Approver,
               claimant: Employee) -> Step:
    if claim.state is not ClaimState.SUBMITTED:
        raise IllegalClaimTransition(f"claim {claim.id} is {claim.state.value}; nothing to "
                                     "approve")
    step = steps[len(claim.approvals)]
    if not approver.roles & step.roles:
        raise PermissionDenied(f"step {step.name} of claim {claim.id} needs one of the roles "
                               f"{', '.join(sorted(step.roles))}")
    own = claimant.username is not None and approver.actor == f"user:{claimant.username}"
    if approver.employee_id == claim.employee_id or own:
        raise DutyConflict(f"{approver.actor} cannot approve their own claim {claim.id}")
    if any(a.actor == approver.actor for a in claim.approvals):
        raise DutyConflict(f"{approver.actor} already decided a step of claim {claim.id}; "
                           "each step needs another person")
    return step
