"""Open items for reconciliation: what we expect to see on the statements.

From our payment orders (settled or accepted: a debit; returned: the debit and the credit
coming back; to one of our own accounts: both legs of an internal transfer), from the ERP's
expected receipts (CSV/JSON, all or nothing, once per file), from paid expense claims (a seam:
`ClaimSource`, filled when claims exist), and bank fee lines recognised by their text.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from bankgate.domain import CompanyAccount, PaymentOrder, Status
from bankgate.domain.errors import InvalidField
from bankgate.domain.recon import OpenItemKind
from bankgate.recon import remittance_keys
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.store import UnitOfWork

__all__ = ["NO_CLAIMS", "ClaimPaid", "ClaimSource", "ReceiptsImported", "import_receipts",
           "item_row", "refresh_items"]

_PAID = (Status.ACCEPTED, Status.SETTLED, Status.RETURNED)
_FEE_TEXT = re.compile(r"手续费|服务费|年费|工本费|\bfees?\b|\bcharges?\b", re.IGNORECASE)
_RECEIPT_FIELDS = ("id", "account", "customer", "customer_account", "amount", "currency",
                   "due_date", "invoices")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimPaid:
    """An expense claim (报销单) paid to an employee: what its statement debit will show."""

    claim_id: str
    account_id: str
    amount_minor: int  # positive: what was paid
    currency: str
    paid_on: date
    employee: str
    employee_account: str | None = None
    end_to_end_id: str | None = None


class ClaimSource(Protocol):
    """Where paid claims come from (issue 5 builds claims; until then there are none)."""

    def paid_claims(self, unit: UnitOfWork) -> Iterable[ClaimPaid]:
        """Claims paid and not yet offered for matching."""
        ...


class _NoClaims:
    def paid_claims(self, unit: UnitOfWork) -> Iterable[ClaimPaid]:
        return ()


NO_CLAIMS: ClaimSource = _NoClaims()


def item_row(*, kind: OpenItemKind, source_id: str, account_id: str, amount_minor: int,
             currency: str, expected: date, at: datetime, e2e: str | None = None,
             batch_id: str | None = None, name: str | None = None, account: str | None = None,
             refs: Sequence[str] = (), flow: str | None = None) -> dict[str, Any]:
    """A `recon_items` row; its id follows from kind and source, so adding it twice is a no-op."""
    digest = hashlib.sha256(f"{kind.value}|{source_id}".encode()).hexdigest()[:32]
    return {"id": f"it_{digest}", "kind": kind.value, "source_id": source_id[:64],
            "account_id": account_id, "amount_minor": amount_minor, "open_minor": amount_minor,
            "currency": currency, "expected_date": expected, "end_to_end_id": e2e,
            "batch_id": batch_id, "counterparty_name": (name or "")[:140] or None,
            "counterparty_account": (account or "")[:34] or None,
            "refs": json.dumps(list(refs)[:20], ensure_ascii=False), "flow": flow,
            "version": 0, "created_at": at}


def refresh_items(unit: UnitOfWork, *, at: datetime, claims: ClaimSource = NO_CLAIMS) -> int:
    """Add the open items that our orders, claims and fee lines imply; returns how many new."""
    ours = {a.number.reveal(): a for a in unit.accounts.all()}
    rows: list[dict[str, Any]] = []
    for status in _PAID:
        for order in unit.orders.list(status=status.value, limit=10_000_000):
            rows += _order_items(order, ours, at)
    rows += [_claim_item(c, at) for c in claims.paid_claims(unit)]
    rows += _fee_items(unit, at)
    return unit.recon.add_items(rows)


def _order_items(order: PaymentOrder, ours: Mapping[str, CompanyAccount],
                 at: datetime) -> list[dict[str, Any]]:
    minor, code = order.amount.to_minor(), order.amount.currency.code
    payee = order.payee.account.reveal()
    internal = ours.get(payee)
    common: dict[str, Any] = {"source_id": order.id, "currency": code, "e2e": order.instruction_id,
              "at": at, "flow": order.flow.value, "refs": remittance_keys(order.remittance)}
    out_kind = OpenItemKind.TRANSFER_OUT if internal else OpenItemKind.PAYMENT
    rows = [item_row(kind=out_kind, account_id=order.debtor, amount_minor=-minor,
                     expected=order.execution_date, batch_id=order.batch_id,
                     name=order.payee.name, account=payee, **common)]
    if internal is not None:
        rows.append(item_row(kind=OpenItemKind.TRANSFER_IN, account_id=internal.id,
                             amount_minor=minor, expected=order.execution_date, **common))
    if order.status is Status.RETURNED:
        rows.append(item_row(kind=OpenItemKind.RETURN, account_id=order.debtor,
                             amount_minor=minor, expected=order.status_changed_at.date(),
                             name=order.payee.name, account=payee, **common))
    return rows


def _claim_item(claim: ClaimPaid, at: datetime) -> dict[str, Any]:
    return item_row(kind=OpenItemKind.CLAIM, source_id=claim.claim_id,
                    account_id=claim.account_id, amount_minor=-claim.amount_minor,
                    currency=claim.currency, expected=claim.paid_on, at=at,
                    e2e=claim.end_to_end_id, name=claim.employee,
                    account=claim.employee_account, flow="reimbursement")


def _fee_items(unit: UnitOfWork, at: datetime) -> list[dict[str, Any]]:
    """A free debit whose text says it is a bank fee is expected by the bank's fee schedule."""
    return [item_row(kind=OpenItemKind.FEE, source_id=f"entry:{line['id']}",
                     account_id=line["account_id"], amount_minor=line["amount_minor"],
                     currency=line["currency"], expected=line["booking_date"], at=at,
                     e2e=line["end_to_end_id"] or line["bank_reference"],
                     name=line["counterparty_name"], account=line["counterparty_account"],
                     refs=remittance_keys(line["remittance"] or ""))
            for line in unit.recon.free_lines()
            if line["amount_minor"] < 0 and _FEE_TEXT.search(line["remittance"] or "")]


# -- expected receipts from the ERP ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReceiptsImported:
    """What importing an expected-receipts file did."""

    sha256: str
    rows: int
    new_items: int
    already_imported: bool


def import_receipts(*, uow: UowFactory, content: bytes, origin: str,
                    now: Any) -> ReceiptsImported:
    """Import expected receipts (应收) from CSV or JSON: every row valid, or nothing stored.

    Raises:
        InvalidField: naming the file, the row (1 = the first data row) and the field.
    """
    digest = hashlib.sha256(content).hexdigest()
    raw = _rows(content, origin)
    if not raw:
        raise InvalidField(f"{origin}: no expected receipt in the file")

    def store(unit: UnitOfWork) -> ReceiptsImported:
        at = now()
        accounts = {str(a.id): a for a in unit.accounts.all()}
        rows = [_receipt(r, n, origin, accounts, at) for n, r in enumerate(raw, 1)]
        fresh = unit.recon.recorded_import(digest, name=origin, rows=len(rows), at=at)
        new = unit.recon.add_items(rows)
        return ReceiptsImported(digest, len(rows), new, not fresh)

    return in_transaction(uow, store)


def _rows(content: bytes, origin: str) -> list[Mapping[str, Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidField(f"{origin}: not UTF-8 text (byte {exc.start})") from None
    if text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidField(f"{origin}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
        data = data.get("receipts") if isinstance(data, dict) else data
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InvalidField(f"{origin}: expected a list of objects (or {{\"receipts\": [...]}})")
        return data
    reader = csv.DictReader(io.StringIO(text))
    unknown = sorted(set(reader.fieldnames or ()) - set(_RECEIPT_FIELDS))
    if unknown:
        raise InvalidField(f"{origin}: header: unknown column {unknown[0]!r} "
                           f"({', '.join(_RECEIPT_FIELDS)})")
    return list(reader)


def _receipt(row: Mapping[str, Any], n: int, origin: str,
             accounts: Mapping[str, CompanyAccount], at: datetime) -> dict[str, Any]:
    def fail(name: str, why: str) -> InvalidField:
        return InvalidField(f"{origin}: row {n}, field {name!r}: {why}")

    unknown = sorted(set(row) - set(_RECEIPT_FIELDS))
    if unknown:
        raise fail(unknown[0], "not a field of an expected receipt")
    account = accounts.get(str(row.get("account") or "").strip())
    if account is None:
        raise fail("account", f"{row.get('account')!r} is not one of our account ids")
    customer = str(row.get("customer") or "").strip()
    if not customer or len(customer) > 140:
        raise fail("customer", "required, at most 140 characters")
    code = str(row.get("currency") or account.currency.code).strip()
    if code != account.currency.code:
        raise fail("currency", f"{code!r}, but account {account.id} is in "
                               f"{account.currency.code}")
    minor = _amount(row.get("amount"), account, fail)
    due = _due(row.get("due_date"), fail)
    invoices = _invoices(row.get("invoices"), fail)
    key = str(row.get("id") or "").strip() or hashlib.sha256(
        json.dumps([account.id, customer, minor, str(due), invoices]).encode()).hexdigest()[:32]
    return item_row(kind=OpenItemKind.RECEIPT, source_id=f"erp:{key}", account_id=account.id,
                    amount_minor=minor, currency=code, expected=due, at=at, name=customer,
                    account=str(row.get("customer_account") or "").strip() or None,
                    refs=[k for inv in invoices for k in remittance_keys(inv)] or invoices)


def _amount(value: Any, account: CompanyAccount, fail: Any) -> int:
    if not isinstance(value, str):
        raise fail("amount", f"{value!r}: give the amount as a decimal string")
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise fail("amount", f"{value!r} is not a decimal") from None
    quantum = account.currency.quantum
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(quantum):
        raise fail("amount", f"{value!r} is not a positive amount in {account.currency.code}")
    return int(amount.scaleb(account.currency.minor_units))


def _due(value: Any, fail: Any) -> date:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise fail("due_date", f"{value!r} is not a date (YYYY-MM-DD)") from None


def _invoices(value: Any, fail: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        found = [v.strip() for v in value if v.strip()]
    elif isinstance(value, str):
        found = [v for v in re.split(r"[;,\s]+", value) if v]
    else:
        raise fail("invoices", f"{value!r}: a list of invoice numbers, or text with ; between")
    if not found:
        raise fail("invoices", "at least one invoice number")
    return found
