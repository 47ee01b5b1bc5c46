"""Electronic receipts (电子回单): fetched from every bank that issues them, kept once, linked,
verified, handed out one by one or as a day's zip, and missing ones reported.

A receipt is stored once per bank and receipt number, its PDF once by SHA-256 (raw files).
It is linked to the payment order whose instruction id it carries (the debit; a return's
credit; a transfer's in-leg credit on the target account), and through the order to the claim
or payroll line it pays. It counts as verified when the bank confirms its verification code
and, where it proves one of our orders, its amount is the order's.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from bankgate.connectors.base import Capability, Channel
from bankgate.domain import CompanyAccount, PaymentOrder
from bankgate.domain.receipts import Receipt
from bankgate.errors import ChannelError, NotFound, SecurityError
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.store import UnitOfWork

__all__ = ["DEFAULT_RECEIPT_DAYS", "ReceiptFetch", "day_archive", "fetch_receipts",
           "missing_receipts", "receipt_document", "receipts_for_claim", "verify_stored"]

BANK_TZ: Final = ZoneInfo("Asia/Shanghai")
#: A settled payment without its receipt after this many days is reported.
DEFAULT_RECEIPT_DAYS: Final = 2


@dataclass
class ReceiptFetch:
    """What one fetch did."""

    fetched: int = 0
    new: int = 0
    verified: int = 0
    linked: int = 0
    problems: list[str] = field(default_factory=list)  # unverified receipts and bank errors


def fetch_receipts(*, uow: UowFactory, channels: Mapping[str, Channel], on: date,
                   now: Callable[[], datetime]) -> ReceiptFetch:
    """Fetch the receipts of `on` (bank date) for every account whose bank issues them."""
    with uow() as unit:
        accounts = unit.accounts.all()
    result = ReceiptFetch()
    for account in accounts:
        channel = channels.get(account.bank)
        if channel is None or Capability.RECEIPTS not in channel.capabilities:
            continue
        try:
            fetched = list(channel.receipts(account, on))  # type: ignore[attr-defined]
        except ChannelError as exc:
            result.problems.append(f"{account.id}: receipts could not be fetched: {exc}")
            continue
        result.fetched += len(fetched)
        _keep(uow, channel, account, fetched, now, result)
    return result


def _keep(uow: UowFactory, channel: Channel, account: CompanyAccount,
          fetched: Sequence[Receipt], now: Callable[[], datetime], result: ReceiptFetch) -> None:
    with uow() as unit:
        held = unit.flows.receipts.held(account.bank, [r.receipt_no for r in fetched])
        orders = unit.orders.by_instruction_ids([r.instruction_id for r in fetched
                                                 if r.instruction_id])
    fresh = [r for r in fetched if r.receipt_no not in held]
    rows = [_row(r, orders.get(r.instruction_id or ""), account, channel, now(), result)
            for r in fresh]

    def work(unit: UnitOfWork) -> int:
        for receipt in fresh:
            unit.statements.archive_raw(receipt.document, name=f"{receipt.receipt_no}.pdf",
                                        origin=f"receipt:{receipt.bank}", at=now())
        return unit.flows.receipts.add_new(rows)

    result.new += in_transaction(uow, work)


def _row(receipt: Receipt, order: PaymentOrder | None, account: CompanyAccount,
         channel: Channel, at: datetime, result: ReceiptFetch) -> dict[str, Any]:
    findings: list[str] = []
    try:
        bank_ok = bool(channel.verify_receipt(  # type: ignore[attr-defined]
            receipt.receipt_no, receipt.verification_code))
    except ChannelError as exc:
        bank_ok = False
        findings.append(f"the bank could not confirm the code now ({type(exc).__name__})")
    if not bank_ok and not findings:
        findings.append("the bank does not confirm its verification code")
    linked = order is not None and _proves(receipt, order, account)
    if order is not None and not linked:
        findings.append(f"it carries order {order.id}'s instruction id but "
                        f"{receipt.amount} is not that order's amount {order.amount}")
    verified = not findings
    result.verified += verified
    result.linked += linked
    if not verified:
        result.problems.append(f"{receipt.bank} {receipt.receipt_no}: {'; '.join(findings)}")
    return {"id": f"rc_{secrets.token_hex(12)}", "bank": receipt.bank,
            "account_id": receipt.account, "receipt_no": receipt.receipt_no,
            "bank_reference": receipt.bank_reference, "instruction_id": receipt.instruction_id,
            "order_id": order.id if linked and order else None,
            "amount_minor": receipt.amount.to_minor(), "currency": receipt.amount.currency.code,
            "booked_at": receipt.booked_at,
            "booked_on": receipt.booked_at.astimezone(BANK_TZ).date(),
            "verification_code": receipt.verification_code,
            "counterparty_name": (receipt.counterparty_name or "")[:140] or None,
            "sha256": receipt.sha256, "verified": verified,
            "verification": ("verified: the bank confirms the code"
                             + (f"; proves order {order.id}" if linked and order else "")
                             if verified else "; ".join(findings))[:255],
            "fetched_at": at}


def _proves(receipt: Receipt, order: PaymentOrder, account: CompanyAccount) -> bool:
    """The debit (or a return's credit) on the debtor, or a transfer's credit on its target."""
    if receipt.amount.currency != order.amount.currency:
        return False
    if account.id == order.debtor:
        return receipt.amount.amount in (-order.amount.amount, order.amount.amount)
    return account.number == order.payee.account and receipt.amount == order.amount


def receipt_document(*, uow: UowFactory, receipt_id: str) -> tuple[str, bytes]:
    """(file name, PDF) of one receipt, checked against its stored hash."""
    with uow() as unit:
        row = unit.flows.receipts.get(receipt_id)
        if row is None:
            raise NotFound(f"receipt {receipt_id!r} does not exist")
        try:
            document = unit.flows.receipts.document(row["sha256"])
        except SecurityError as exc:  # its envelope does not open: altered at rest
            raise NotFound(f"receipt {receipt_id}: the stored PDF is altered ({exc})") from exc
    if document is None or hashlib.sha256(document).hexdigest() != row["sha256"]:
        raise NotFound(f"receipt {receipt_id}: the stored PDF is missing or altered")
    return f"{row['bank']}-{row['receipt_no']}.pdf", document


def verify_stored(*, uow: UowFactory, receipt_id: str) -> bool:
    """True when the stored PDF still hashes to what was fetched."""
    try:
        receipt_document(uow=uow, receipt_id=receipt_id)
    except NotFound:
        return False
    return True


def day_archive(*, uow: UowFactory, day: date, account_id: str | None = None) -> bytes:
    """A zip of the day's receipts (one PDF each) with a manifest.csv of what they prove."""
    with uow() as unit:
        rows = unit.flows.receipts.on_day(day, account_id=account_id)
        documents = {r["sha256"]: unit.flows.receipts.document(r["sha256"]) for r in rows}
    buffer = io.BytesIO()
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["file", "bank", "receipt_no", "account_id", "serial", "instruction_id",
                     "order_id", "amount_minor", "currency", "booked_at", "sha256", "verified"])
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            name = f"{row['account_id']}/{row['bank']}-{row['receipt_no']}.pdf"
            archive.writestr(name, documents[row["sha256"]] or b"")
            writer.writerow([name, row["bank"], row["receipt_no"], row["account_id"],
                             row["bank_reference"], row["instruction_id"] or "",
                             row["order_id"] or "", row["amount_minor"], row["currency"],
                             row["booked_at"].isoformat(), row["sha256"], row["verified"]])
        archive.writestr("manifest.csv", manifest.getvalue().encode("utf-8-sig"))
    return buffer.getvalue()


def receipts_for_claim(*, uow: UowFactory, claim_id: str) -> list[dict[str, Any]]:
    """The receipts of the payment that paid a claim."""
    with uow() as unit:
        claim = unit.flows.claims.get(claim_id)
        return unit.flows.receipts.for_order(claim.order_id) if claim.order_id else []


def missing_receipts(*, uow: UowFactory, now: Callable[[], datetime],
                     channels: Mapping[str, Channel],
                     days: int = DEFAULT_RECEIPT_DAYS) -> list[dict[str, Any]]:
    """Settled payments still without a receipt `days` after they settled, at the banks
    whose channel issues receipts (elsewhere none can arrive: docs/flows.md)."""
    issuing = sorted(bank for bank, channel in channels.items()
                     if Capability.RECEIPTS in channel.capabilities)
    with uow() as unit:
        return unit.flows.receipts.settled_without_receipt(
            settled_before=now() - timedelta(days=days), banks=issuing)
