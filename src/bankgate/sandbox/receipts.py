"""The sandbox banks' electronic receipts (电子回单): one PDF per booked entry.

`GET /<bank>/v1/accounts/<number>/receipts?date=YYYY-MM-DD` lists the day's receipts: number,
the entry's serial (流水号), instruction id, signed amount, booking time, a verification code
(验证码) and the PDF (base64) with its SHA-256. `POST /<bank>/v1/receipts/verify` with
`{"receipt_no", "verification_code"}` answers `{"valid": true|false}`, as a bank's receipt
check page does. The code is an HMAC under a key only the bank holds (here: derived from the
bank id, which is good enough for a sandbox and nothing else).

The PDF is a small valid PDF 1.4 written here (one page, Helvetica, ASCII text); no library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, Final

from bankgate.sandbox import wire
from bankgate.sandbox.dialects import ErrorMeaning
from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.records import Booking, Refusal

__all__ = ["answer_receipts", "answer_verify_receipt", "receipt_pdf", "verification_code"]

_RECEIPT_NO: Final = re.compile(r"[A-Z0-9\-]{1,40}")


def _key(bank: str) -> bytes:
    return hashlib.sha256(f"bankgate-sandbox-receipts:{bank}".encode()).digest()


def receipt_no(booking: Booking) -> str:
    """The receipt number of an entry: R + the bank's serial."""
    return f"R{booking.serial}"


def _fields(booking: Booking, code: str) -> dict[str, str]:
    return {"receipt_no": receipt_no(booking), "serial": booking.serial,
            "account": booking.account, "booked_at": wire.iso_z(booking.booked_at),
            "amount": wire.amount_text(booking.amount_minor, code),
            "currency": code, "instruction_id": booking.instruction_id or ""}


def verification_code(bank: str, fields: Mapping[str, str]) -> str:
    """The receipt's 验证码: 16 hex digits of an HMAC-SHA256 over its fields."""
    text = "|".join(f"{k}={fields[k]}" for k in sorted(fields))
    return hmac.new(_key(bank), text.encode(), hashlib.sha256).hexdigest()[:16].upper()


def answer_receipts(ledger: Ledger, bank: str, number: str, day: str) -> dict[str, Any]:
    """The receipts of one account's entries booked on `day`."""
    on = wire.parse_date(day, "date")
    state = ledger.account(bank, number)
    receipts = []
    for booking in ledger.entries(bank, number, on, on):
        fields = _fields(booking, state.currency)
        code = verification_code(bank, fields)
        pdf = receipt_pdf(bank, fields, booking, code)
        receipts.append({**fields, "verification_code": code,
                         "counterparty_name": booking.counterparty_name,
                         "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
                         "pdf": base64.b64encode(pdf).decode()})
    return {"account": number, "date": on.isoformat(), "receipts": receipts}


def answer_verify_receipt(ledger: Ledger, bank: str, body: bytes) -> dict[str, Any]:
    """Whether a receipt number and verification code are the bank's."""
    data = wire.load_json(body)
    number, code = data.get("receipt_no"), data.get("verification_code")
    if not isinstance(number, str) or not _RECEIPT_NO.fullmatch(number):
        raise Refusal(400, ErrorMeaning.INVALID_REQUEST, "receipt_no: expected a receipt number")
    if not isinstance(code, str) or len(code) > 64:
        raise Refusal(400, ErrorMeaning.INVALID_REQUEST, "verification_code: expected text")
    booking = _find(ledger, bank, number)
    if booking is None:
        return {"receipt_no": number, "valid": False}
    expected = verification_code(bank, _fields(booking, _currency(ledger, booking)))
    return {"receipt_no": number, "valid": hmac.compare_digest(expected, code.upper())}


def _find(ledger: Ledger, bank: str, number: str) -> Booking | None:
    for state in ledger.accounts():
        if state.bank != bank or state.kind.is_internal:
            continue
        for booking in ledger.bookings(bank, state.number):
            if receipt_no(booking) == number:
                return booking
    return None


def _currency(ledger: Ledger, booking: Booking) -> str:
    return ledger.account(booking.bank, booking.account).currency


def receipt_pdf(bank: str, fields: Mapping[str, str], booking: Booking, code: str) -> bytes:
    """A one-page PDF showing the receipt (ASCII only: base-14 fonts have no CJK glyphs)."""
    masked = f"{booking.account[:4]}****{booking.account[-4:]}"
    lines = [f"{bank.upper()} ELECTRONIC RECEIPT (DIANZI HUIDAN)", "",
             f"Receipt No: {fields['receipt_no']}", f"Serial: {fields['serial']}",
             f"Booked at: {fields['booked_at']}", f"Account: {masked}",
             f"Amount: {fields['amount']} {fields['currency']}",
             f"Instruction ID: {fields['instruction_id'] or '-'}",
             f"Verification code: {code}"]
    return _pdf(lines)


def _pdf(lines: list[str]) -> bytes:
    text = "".join(f"({_escape(line)}) Tj 0 -18 Td\n" for line in lines)
    stream = f"BT /F1 12 Tf 56 780 Td\n{text}ET\n".encode("ascii")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
               b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream
               + b"endstream"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


def _escape(text: str) -> str:
    ascii_only = text.encode("ascii", "replace").decode("ascii")
    return ascii_only.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
