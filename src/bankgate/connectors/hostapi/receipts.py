"""Electronic receipts over the host API (电子回单): list a day's, and check a code.

`GET /accounts/{number}/receipts?date=` and `POST /receipts/verify` (reads: any failure is
`BankUnavailable`). A receipt whose PDF does not hash to the SHA-256 the bank stated, whose
amount is not in the currency's scale, or that is for another account, is malformed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from bankgate.connectors.hostapi.client import HostApiClient
from bankgate.connectors.hostapi.wire import (
    MalformedAnswer,
    list_field,
    signed_amount,
    text_field,
    time_field,
)
from bankgate.domain import CompanyAccount, InstructionId
from bankgate.domain.receipts import Receipt
from bankgate.errors import BankUnavailable

__all__ = ["fetch_receipts", "verify_receipt"]

MAX_RECEIPT_BYTES: Final = 2 * 1024 * 1024


def fetch_receipts(client: HostApiClient, bank: str, account: CompanyAccount,
                   on: date) -> list[Receipt]:
    """The receipts of `account`'s entries booked on `on`."""
    path = f"/accounts/{account.number.reveal()}/receipts"
    answer = client.call("GET", path, params={"date": on.isoformat()}, safe=True)
    try:
        if text_field(answer.body, "account") != account.number.reveal():
            raise MalformedAnswer("field 'account': the answer is for another account")
        return [_receipt(item, bank, account, i)
                for i, item in enumerate(list_field(answer.body, "receipts"))]
    except (MalformedAnswer, KeyError, TypeError) as exc:
        raise BankUnavailable(f"{bank}: malformed receipts answer: {exc}",
                              raw=answer.raw[:65536]) from exc


def _receipt(item: Any, bank: str, account: CompanyAccount, index: int) -> Receipt:
    where = f"receipts[{index}]"
    if not isinstance(item, Mapping):
        raise MalformedAnswer(f"{where}: not an object")
    try:
        document = base64.b64decode(text_field(item, "pdf"), validate=True)
    except binascii.Error as exc:
        raise MalformedAnswer(f"{where}.pdf: not base64") from exc
    if len(document) > MAX_RECEIPT_BYTES or not document.startswith(b"%PDF-"):
        raise MalformedAnswer(f"{where}.pdf: not a PDF of at most {MAX_RECEIPT_BYTES} bytes")
    digest = hashlib.sha256(document).hexdigest()
    if digest != text_field(item, "pdf_sha256"):
        raise MalformedAnswer(f"{where}.pdf: its SHA-256 is not the one the bank stated")
    instruction = item.get("instruction_id") or None
    return Receipt(bank=bank, account=account.id, receipt_no=text_field(item, "receipt_no"),
                   bank_reference=text_field(item, "serial"),
                   instruction_id=InstructionId(instruction) if instruction else None,
                   amount=signed_amount(item, "amount", account.currency),
                   booked_at=time_field(item.get("booked_at"), "booked_at"),
                   verification_code=text_field(item, "verification_code"),
                   counterparty_name=item.get("counterparty_name") or None, sha256=digest,
                   document=document)


def verify_receipt(client: HostApiClient, bank: str, receipt_no: str, code: str) -> bool:
    """Whether the bank confirms `code` for `receipt_no` (its receipt check)."""
    answer = client.call("POST", "/receipts/verify", safe=True,
                         body={"receipt_no": receipt_no, "verification_code": code})
    body = answer.body
    if not isinstance(body, dict) or body.get("receipt_no") != receipt_no or not isinstance(
            body.get("valid"), bool):
        raise BankUnavailable(f"{bank}: malformed receipt verification answer", raw=answer.raw)
    return bool(body["valid"])
