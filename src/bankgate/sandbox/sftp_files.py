"""The file bank's messages: reading pain.001, writing pain.002, camt.053 and camt.054.

pain.001 is read through `formats/xml.py` (no DTD, no entities, no network, bounded size).
What is written follows the official XSDs pain.002.001.03, camt.053.001.02 and
camt.054.001.02 (the tests validate every kind against them) and the structure our readers
accept: every transaction status names its original end-to-end id; statements carry the
opening (OPBD), closing (CLBD) and closing available (CLAV) balances and one entry per
booking, whose account servicer reference is the booking's serial (流水号), so that a
statement and a notification of the same booking are the same entry.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from lxml import etree

from bankgate.domain import currency, parse_amount
from bankgate.errors import DomainError, FormatError
from bankgate.formats.xml import iter_elements, local
from bankgate.sandbox.records import Booking, OrderLine, StatementView

__all__ = ["PaymentFile", "StatusLine", "camt053", "camt054", "pain002", "read_pain001"]

_NS: Final = "urn:iso:std:iso:20022:tech:xsd:"
_PAIN001: Final = frozenset({"GrpHdr", "PmtInf"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentFile:
    """A pain.001 as the bank reads it: one payment information block."""

    message_id: str
    message_name: str  # pain.001.001.03 or .09
    batch_id: str  # PmtInfId
    debtor_account: str
    currency: str
    execution_date: date
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusLine:
    """One transaction's status in a pain.002."""

    end_to_end_id: str
    status: str  # ACCP, ACSC, RJCT, PDNG
    reason: str | None = None  # ISO reason code
    text: str | None = None


def read_pain001(data: bytes, origin: str) -> PaymentFile:
    """The payment file's one PmtInf; FormatError names what is wrong and where."""
    message_id = name = ""
    blocks: list[etree._Element] = []
    for element in iter_elements(io.BytesIO(data), origin, _PAIN001, free=False):
        tag = str(element.tag)
        name = tag[1:].split("}")[0].rsplit(":", 1)[-1] if tag.startswith("{") else ""
        if local(tag) == "GrpHdr":
            message_id = _text(element, "MsgId") or ""
        else:
            blocks.append(element)
    if not name.startswith("pain.001."):
        raise FormatError(origin, "/Document", f"not a pain.001 (namespace {name!r})")
    if len(blocks) != 1 or not message_id:
        raise FormatError(origin, "/Document/CstmrCdtTrfInitn",
                          "expected a group header and exactly one PmtInf")
    block = blocks[0]
    ccy = _text(block, "DbtrAcct/Ccy") or "CNY"
    when = _text(block, "ReqdExctnDt/Dt") or _text(block, "ReqdExctnDt") or ""
    try:
        execution = date.fromisoformat(when)
    except ValueError as exc:
        raise FormatError(origin, "/PmtInf/ReqdExctnDt", f"{when!r} is not a date") from exc
    lines = tuple(_line(tx, ccy, origin, n)
                  for n, tx in enumerate(_children(block, "CdtTrfTxInf"), 1))
    return PaymentFile(message_id=message_id, message_name=name,
                       batch_id=_required(block, "PmtInfId", origin, "/PmtInf"),
                       debtor_account=_account(block, "DbtrAcct", origin, "/PmtInf"),
                       currency=ccy, execution_date=execution, lines=lines)


def _line(tx: etree._Element, ccy: str, origin: str, n: int) -> OrderLine:
    where = f"/PmtInf/CdtTrfTxInf[{n}]"
    amount_node = _find(tx, "Amt/InstdAmt")
    raw = (amount_node.text or "").strip() if amount_node is not None else ""
    try:
        if amount_node is None or amount_node.get("Ccy") != ccy:
            raise DomainError(f"InstdAmt must be given in {ccy}")
        minor = parse_amount(raw, currency(ccy)).to_minor()
    except (DomainError, InvalidOperation) as exc:
        raise FormatError(origin, f"{where}/Amt/InstdAmt", str(exc)) from exc
    agent = _text(tx, "CdtrAgt/FinInstnId/Othr/Id")
    return OrderLine(instruction_id=_required(tx, "PmtId/EndToEndId", origin, where),
                     amount_minor=minor, payee_name=_text(tx, "Cdtr/Nm") or "",
                     payee_account=_account(tx, "CdtrAcct", origin, where),
                     payee_bank=agent.lower() if agent else None,
                     remittance=_text(tx, "RmtInf/Ustrd") or "")


def _account(node: etree._Element, name: str, origin: str, where: str) -> str:
    found = _text(node, f"{name}/Id/IBAN") or _text(node, f"{name}/Id/Othr/Id")
    if not found:
        raise FormatError(origin, f"{where}/{name}/Id", "the account id is missing")
    return found


def _required(node: etree._Element, path: str, origin: str, where: str) -> str:
    found = _text(node, path)
    if not found:
        raise FormatError(origin, f"{where}/{path}", "missing")
    return found


def _children(node: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in node if local(child.tag) == name]


def _find(node: etree._Element, path: str) -> etree._Element | None:
    found: etree._Element | None = node
    for step in path.split("/"):
        found = next((c for c in found if local(c.tag) == step), None) if found is not None \
            else None
    return found


def _text(node: etree._Element, path: str) -> str | None:
    found = _find(node, path)
    return (found.text or "").strip() or None if found is not None else None


# -- writing -------------------------------------------------------------------------------


class _Doc:
    """Elements in one message's namespace."""

    def __init__(self, message: str) -> None:
        self.ns = _NS + message
        self.root = etree.Element(f"{{{self.ns}}}Document",
                                  nsmap={None: self.ns})  # type: ignore[dict-item]

    def sub(self, parent: etree._Element, path: str, text: str | None = None,
            **attributes: str) -> etree._Element:
        node = parent
        *steps, last = path.split("/")
        for step in steps:  # an intermediate element just written is reused (Refs, Fmly)
            tag = f"{{{self.ns}}}{step}"
            node = node[-1] if len(node) and node[-1].tag == tag else \
                etree.SubElement(node, tag)
        node = etree.SubElement(node, f"{{{self.ns}}}{last}")
        for key, value in attributes.items():
            node.set(key, value)
        if text is not None:
            node.text = text
        return node

    def bytes(self) -> bytes:
        data: bytes = etree.tostring(self.root, xml_declaration=True, encoding="UTF-8",
                                     pretty_print=True)
        return data


def _stamp(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat()


def pain002(*, message_id: str, created_at: datetime, original: PaymentFile | None,
            original_message_id: str, group_status: str, group_reason: str | None = None,
            group_text: str | None = None, lines: Sequence[StatusLine] = ()) -> bytes:
    """A pain.002.001.03 status report on one original message."""
    doc = _Doc("pain.002.001.03")
    report = doc.sub(doc.root, "CstmrPmtStsRpt")
    header = doc.sub(report, "GrpHdr")
    doc.sub(header, "MsgId", message_id)
    doc.sub(header, "CreDtTm", _stamp(created_at))
    group = doc.sub(report, "OrgnlGrpInfAndSts")
    doc.sub(group, "OrgnlMsgId", original_message_id[:35])
    doc.sub(group, "OrgnlMsgNmId", original.message_name if original else "pain.001.001.03")
    doc.sub(group, "GrpSts", group_status)
    _reason(doc, group, group_reason, group_text)
    if original is not None and lines:
        block = doc.sub(report, "OrgnlPmtInfAndSts")
        doc.sub(block, "OrgnlPmtInfId", original.batch_id)
        for line in lines:
            tx = doc.sub(block, "TxInfAndSts")
            doc.sub(tx, "OrgnlEndToEndId", line.end_to_end_id)
            doc.sub(tx, "TxSts", line.status)
            _reason(doc, tx, line.reason, line.text)
    return doc.bytes()


def _reason(doc: _Doc, parent: etree._Element, code: str | None, text: str | None) -> None:
    if code is None and text is None:
        return
    info = doc.sub(parent, "StsRsnInf")
    if code is not None:
        doc.sub(info, "Rsn/Cd", code)
    if text:
        doc.sub(info, "AddtlInf", text[:105])


def _amount(minor: int, ccy: str) -> str:
    digits = currency(ccy).minor_units
    return f"{Decimal(abs(minor)).scaleb(-digits):f}"


def _account_block(doc: _Doc, parent: etree._Element, number: str, ccy: str,
                   holder: str) -> None:
    account = doc.sub(parent, "Acct")
    doc.sub(account, "Id/Othr/Id", number)
    doc.sub(account, "Ccy", ccy)
    doc.sub(account, "Ownr/Nm", holder[:70])


def _balance(doc: _Doc, parent: etree._Element, code: str, minor: int, ccy: str,
             on: date) -> None:
    balance = doc.sub(parent, "Bal")
    doc.sub(balance, "Tp/CdOrPrtry/Cd", code)
    doc.sub(balance, "Amt", _amount(minor, ccy), Ccy=ccy)
    doc.sub(balance, "CdtDbtInd", "DBIT" if minor < 0 else "CRDT")
    doc.sub(balance, "Dt/Dt", on.isoformat())


def _entry(doc: _Doc, parent: etree._Element, booking: Booking, ccy: str,
           return_reason: str | None = None) -> None:
    entry = doc.sub(parent, "Ntry")
    doc.sub(entry, "Amt", _amount(booking.amount_minor, ccy), Ccy=ccy)
    credit = booking.amount_minor > 0
    doc.sub(entry, "CdtDbtInd", "CRDT" if credit else "DBIT")
    doc.sub(entry, "Sts", "BOOK")
    doc.sub(entry, "BookgDt/Dt", booking.booking_date.isoformat())
    doc.sub(entry, "ValDt/Dt", booking.booking_date.isoformat())
    doc.sub(entry, "AcctSvcrRef", booking.serial)
    family = ("RCDT", "ESCT") if credit else ("ICDT", "ESCT")
    if return_reason:
        family = ("ICDT", "RRTN")
    code = doc.sub(entry, "BkTxCd/Domn")
    doc.sub(code, "Cd", "PMNT")
    doc.sub(code, "Fmly/Cd", family[0])
    doc.sub(code, "Fmly/SubFmlyCd", family[1])
    tx = doc.sub(entry, "NtryDtls/TxDtls")
    doc.sub(tx, "Refs/AcctSvcrRef", booking.serial)
    if booking.instruction_id:
        doc.sub(tx, "Refs/EndToEndId", booking.instruction_id)
    side = "Dbtr" if credit else "Cdtr"
    parties = doc.sub(tx, "RltdPties")
    doc.sub(parties, f"{side}/Nm", booking.counterparty_name[:70])
    doc.sub(parties, f"{side}Acct/Id/Othr/Id", booking.counterparty_account)
    if booking.remittance:
        doc.sub(tx, "RmtInf/Ustrd", booking.remittance[:140])
    if return_reason:
        doc.sub(tx, "RtrInf/Rsn/Cd", return_reason)


def _bank_message(doc: _Doc, path: str, message_id: str, created_at: datetime, *,
                  sequence: int | None = None) -> etree._Element:
    """GrpHdr (MsgId, CreDtTm) and the one statement or notification, with its Id,
    electronic sequence number (camt.053) and CreDtTm; returns that statement element."""
    root_tag, inner_tag = path.split("/")
    message = doc.sub(doc.root, root_tag)
    doc.sub(message, "GrpHdr/MsgId", message_id)
    doc.sub(message[0], "CreDtTm", _stamp(created_at))
    inner = doc.sub(message, inner_tag)
    doc.sub(inner, "Id", message_id)
    if sequence is not None:
        doc.sub(inner, "ElctrncSeqNb", str(sequence))
    doc.sub(inner, "CreDtTm", _stamp(created_at))
    return inner


def camt053(view: StatementView, *, statement_id: str, sequence: int,
            created_at: datetime) -> bytes:
    """A camt.053.001.02 end-of-day statement (one Stmt) of one account and day."""
    doc = _Doc("camt.053.001.02")
    statement = _bank_message(doc, "BkToCstmrStmt/Stmt", statement_id, created_at,
                              sequence=sequence)
    state = view.account
    _account_block(doc, statement, state.number, state.currency, state.holder)
    _balance(doc, statement, "OPBD", view.opening_minor, state.currency, view.on)
    _balance(doc, statement, "CLBD", view.closing_minor, state.currency, view.on)
    # available = booked: the sandbox holds no funds back (as its host API answers)
    _balance(doc, statement, "CLAV", view.closing_minor, state.currency, view.on)
    for booking in view.entries:
        _entry(doc, statement, booking, state.currency)
    return doc.bytes()


def camt054(*, notification_id: str, created_at: datetime, number: str, ccy: str,
            holder: str, returns: Sequence[tuple[Booking, str]]) -> bytes:
    """A camt.054.001.02 credit notification of returned payments, with their reasons."""
    doc = _Doc("camt.054.001.02")
    notification = _bank_message(doc, "BkToCstmrDbtCdtNtfctn/Ntfctn", notification_id,
                                 created_at)
    _account_block(doc, notification, number, ccy, holder)
    for booking, reason in returns:
        _entry(doc, notification, booking, ccy, return_reason=reason)
    return doc.bytes()
