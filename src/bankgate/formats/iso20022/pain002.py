"""pain.002 customer payment status reports, versions 001.001.03 to 001.001.10.

Statuses at three levels — the original message (`OrgnlGrpInfAndSts/GrpSts`), each payment
information block (`PmtInfSts`) and each transaction (`TxSts`) — with their reason codes,
mapped onto the payment lifecycle. A level's status applies to what lies under it when the
bank gives nothing lower (a rejected message rejects every transaction in it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO, Final

from lxml import etree

from bankgate.domain import InstructionId, Outcome, StatusReport
from bankgate.errors import FormatError
from bankgate.formats.xml import iter_elements, local

__all__ = ["STATUS_OUTCOME", "PaymentStatus", "detect_pain002", "read_pain002",
           "to_status_reports"]

#: ISO 20022 ExternalPaymentTransactionStatus1Code → our outcome.
STATUS_OUTCOME: Final = {
    "RCVD": Outcome.RECEIVED, "PDNG": Outcome.RECEIVED, "ACTC": Outcome.RECEIVED,
    "PART": Outcome.RECEIVED, "ACCP": Outcome.ACCEPTED, "ACSP": Outcome.ACCEPTED,
    "ACWC": Outcome.ACCEPTED, "ACWP": Outcome.ACCEPTED, "ACFC": Outcome.ACCEPTED,
    "ACSC": Outcome.SETTLED, "ACCC": Outcome.SETTLED, "RJCT": Outcome.REJECTED,
}
_NAMESPACE: Final = re.compile(rb"pain\.002\.001\.(\d{2})")
_ROOT: Final = re.compile(rb"<(?:\w+:)?CstmrPmtStsRpt[\s>]")
_LEVELS: Final = frozenset({"OrgnlGrpInfAndSts", "OrgnlPmtInfAndSts"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentStatus:
    """One status line of a report, at one level, with where it sits in the file."""

    level: str  # "message", "payment_information" or "transaction"
    original_message_id: str | None
    original_payment_information_id: str | None = None
    original_instruction_id: str | None = None
    original_end_to_end_id: str | None = None
    status: str  # the ISO code as sent (ACCP, RJCT, ...); "" when the level gives none
    outcome: Outcome
    reason_codes: tuple[str, ...] = ()
    additional_info: str | None = None
    where: str = ""


def detect_pain002(head: bytes) -> str | None:
    """'pain.002.001.NN' for a pain.002 (namespace or root element), else None."""
    found = _NAMESPACE.search(head)
    if found:
        return f"pain.002.001.{found.group(1).decode()}"
    return "pain.002" if _ROOT.search(head) else None


def read_pain002(stream: IO[bytes], origin: str) -> list[PaymentStatus]:
    """Every status line of a pain.002, message level first; FormatError names the XPath."""
    lines: list[PaymentStatus] = []
    message_id: str | None = None
    for element in iter_elements(stream, origin, _LEVELS):
        namespace = str(element.tag)[1:].split("}")[0] if str(element.tag).startswith("{") \
            else ""
        if namespace and "pain.002" not in namespace:
            raise FormatError(origin, "/Document", f"the namespace {namespace!r} is not a "
                              "pain.002 status report")
        if local(element.tag) == "OrgnlGrpInfAndSts":
            message_id = _text(element, "OrgnlMsgId")
            lines.append(_line(element, "message", message_id, "GrpSts",
                               "/OrgnlGrpInfAndSts", origin))
            continue
        lines.extend(_payment(element, message_id, len(lines), origin))
    if not lines:
        raise FormatError(origin, "/Document/CstmrPmtStsRpt",
                          "no original group information (OrgnlGrpInfAndSts): not a status "
                          "report")
    return lines


def _payment(element: etree._Element, message_id: str | None, n: int,
             origin: str) -> list[PaymentStatus]:
    where = f"/OrgnlPmtInfAndSts[{n}]"
    block = _line(element, "payment_information", message_id, "PmtInfSts", where, origin)
    lines = [block]
    for i, tx in enumerate((c for c in element if local(c.tag) == "TxInfAndSts"), 1):
        line = _line(tx, "transaction", message_id, "TxSts", f"{where}/TxInfAndSts[{i}]",
                     origin, payment_id=block.original_payment_information_id)
        lines.append(line)
    return lines


def _line(element: etree._Element, level: str, message_id: str | None, status_tag: str,
          where: str, origin: str, payment_id: str | None = None) -> PaymentStatus:
    status = _text(element, status_tag) or ""
    reasons = tuple(code for info in element if local(info.tag) == "StsRsnInf"
                    for code in [_text(info, "Rsn/Cd") or _text(info, "Rsn/Prtry")] if code)
    extra = " ".join(t.text.strip() for info in element if local(info.tag) == "StsRsnInf"
                     for t in info if local(t.tag) == "AddtlInf" and t.text and t.text.strip())
    return PaymentStatus(
        level=level, original_message_id=message_id,
        original_payment_information_id=payment_id or _text(element, "OrgnlPmtInfId"),
        original_instruction_id=_text(element, "OrgnlInstrId"),
        original_end_to_end_id=_text(element, "OrgnlEndToEndId"), status=status,
        outcome=STATUS_OUTCOME.get(status, Outcome.UNRECOGNIZED if status else
                                   Outcome.RECEIVED),
        reason_codes=reasons, additional_info=extra or None, where=where)


def to_status_reports(lines: list[PaymentStatus]) -> list[StatusReport]:
    """Transaction-level statuses as reports; a rejected message or block rejects its own."""
    rejected_blocks = {line.original_payment_information_id for line in lines
                       if line.level == "payment_information" and line.status == "RJCT"}
    message_rejected = any(line.level == "message" and line.status == "RJCT" for line in lines)
    reports: list[StatusReport] = []
    for line in lines:
        if line.level != "transaction" or not (line.original_end_to_end_id
                                               or line.original_instruction_id):
            continue  # a line without ids cannot be matched to an order; kept in the JSON
        inherited = message_rejected or line.original_payment_information_id in rejected_blocks
        outcome = Outcome.REJECTED if inherited and not line.status else line.outcome
        reports.append(StatusReport(
            instruction_id=InstructionId(line.original_end_to_end_id
                                         or line.original_instruction_id or ""),
            outcome=outcome, bank_code=line.status or "RJCT",
            reason_code=line.reason_codes[0] if line.reason_codes else None,
            reason=line.additional_info))
    return reports


def _text(element: etree._Element, path: str) -> str | None:
    node: etree._Element | None = element
    for name in path.split("/"):
        node = next((c for c in node if local(c.tag) == name), None) if node is not None \
            else None
    text = node.text.strip() if node is not None and node.text else ""
    return text or None
