"""pain.001 customer credit transfer initiation, versions 001.001.03 and 001.001.09 (ISO 20022).

One batch becomes one message with one payment information block (`PmtInf`) and one
`CdtTrfTxInf` per order, whose `EndToEndId` is the order's instruction id. The versions
differ only where `_VERSIONS` says (agent BIC tag, the requested execution date's `Dt`
wrapper); every file written is validated against the official XSD shipped in `xsd/`.

Text follows one of two profiles (`_PROFILES`), chosen per batch:

- ``sepa`` — a EUR batch from an IBAN: the basic Latin set of the EPC SCT implementation
  guidelines (a-z A-Z 0-9 / - ? : ( ) . , ' + and space). Letters with diacritics lose
  them (é → e, ß → ss), other characters become ``.``; names are cut to 70 characters
  (EPC Max70Text), remittance to 140.
- ``unicode`` — CNY (domestic) and other cross-border payments: text stays Unicode as the
  ISO XSD allows (Chinese bank host systems require 户名 in Chinese); names and remittance
  are cut to 140 characters (Max140Text), and characters XML cannot carry are dropped.

Identifiers are never changed: an id that breaks Max35Text or the profile is refused.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, lru_cache
from importlib.resources import files
from typing import Final, Protocol, cast

from lxml import etree

from bankgate.domain import (
    AccountKind,
    AccountNumber,
    Batch,
    CompanyAccount,
    InvalidField,
    InvalidIdentifier,
    PaymentOrder,
)
from bankgate.errors import FormatError
from bankgate.formats.xml import xpath_of

__all__ = ["VERSIONS", "validate_pain001", "write_pain001"]


@dataclass(frozen=True, slots=True)
class _Version:
    """What differs between the pain.001 versions we write."""

    namespace: str
    bic_tag: str  # FinInstnId/BIC (.03) became FinInstnId/BICFI (.09)
    date_wrapped: bool  # ReqdExctnDt is an ISODate (.03), a Dt/DtTm choice (.09)

    @property
    def name(self) -> str:
        return self.namespace.rsplit(":", 1)[-1]


_NS: Final = "urn:iso:std:iso:20022:tech:xsd:"
_VERSIONS: Final = {
    "03": _Version(_NS + "pain.001.001.03", bic_tag="BIC", date_wrapped=False),
    "09": _Version(_NS + "pain.001.001.09", bic_tag="BICFI", date_wrapped=True),
}
#: The versions `write_pain001` and `validate_pain001` accept.
VERSIONS: Final = tuple(_VERSIONS)

_SEPA_CHARS: Final = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_SEPA_LETTERS: Final = str.maketrans({"ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o",
                                      "Œ": "OE", "œ": "oe", "Ł": "L", "ł": "l", "Đ": "D",
                                      "đ": "d", "Þ": "TH", "þ": "th", "&": "+"})
_NOT_IN_XML: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_MAX35: Final = 35
_DOCTYPE: Final = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_BIC: Final = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")  # valid in .03 and .09


@lru_cache(maxsize=4096)
def _to_sepa(text: str) -> str:
    if text.isascii() and not _SEPA_CHARS.search(text):
        return text  # already in the EPC set: most names and references
    decomposed = unicodedata.normalize("NFKD", text.translate(_SEPA_LETTERS))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPA_CHARS.sub(".", plain)


@lru_cache(maxsize=4096)
def _to_xml_text(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    kept = (c for c in unicodedata.normalize("NFC", text)
            if unicodedata.category(c) not in _NOT_IN_XML)
    return "".join(kept)


@dataclass(frozen=True, slots=True)
class _Profile:
    """Character set and lengths a bank enforces on free text."""

    name: str
    name_max: int
    text_max: int
    convert: Callable[[str], str]

    def text(self, value: str, limit: int) -> str:
        """`value` in this profile's characters, whitespace collapsed, cut to `limit`."""
        return " ".join(self.convert(value).split())[:limit].rstrip()


_PROFILES: Final = {
    "sepa": _Profile("sepa", name_max=70, text_max=140, convert=_to_sepa),
    "unicode": _Profile("unicode", name_max=140, text_max=140, convert=_to_xml_text),
}


def _profile_for(debtor: CompanyAccount) -> _Profile:
    is_sepa = debtor.currency.code == "EUR" and debtor.number.kind is AccountKind.IBAN
    return _PROFILES["sepa" if is_sepa else "unicode"]


def write_pain001(batch: Batch, debtor: CompanyAccount, orders: Sequence[PaymentOrder], *,
                  version: str, message_id: str | None = None,
                  created_at: datetime | None = None, initiating_party: str | None = None,
                  bics: Mapping[str, str] | None = None) -> bytes:
    """The pain.001 message (UTF-8 bytes) for `batch`, validated against the version's XSD.

    `bics` maps bank ids (the debtor's and payees' `bank`) to BICs; an agent without one is
    written as `Othr/Id` (the bank id, or NOTPROVIDED for the debtor's agent, EPC style).

    Raises:
        InvalidField: the orders do not make up the batch (ids, currency, date, total,
            debtor), a BIC is malformed, or `version` is unknown.
        InvalidIdentifier: a message id that is not Max35Text in the profile's characters.
        FormatError: the written message breaks the XSD (a bug of ours, never sent).
    """
    spec = _version(version)
    _check_batch(batch, debtor, orders)
    profile = _profile_for(debtor)
    msg_id = _identifier(message_id or batch.id, profile, "message_id")
    at = (created_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    agents = _checked_bics(bics or {})
    writer = _Writer(spec, profile, agents)
    writer.parts.append(f'<Document xmlns="{spec.namespace}">\n')
    writer.indent = "  "
    writer.open("CstmrCdtTrfInitn")
    writer.open("GrpHdr")
    writer.leaf("MsgId", msg_id)
    writer.leaf("CreDtTm", at.isoformat().replace("+00:00", "Z"))
    writer.leaf("NbOfTxs", str(len(orders)))
    writer.leaf("CtrlSum", _amount(sum((o.amount.amount for o in orders), Decimal(0))))
    writer.party("InitgPty", initiating_party or debtor.name)
    writer.close("GrpHdr")
    writer.payment_information(batch, debtor, orders)
    writer.close("CstmrCdtTrfInitn")
    writer.parts.append("</Document>\n")
    data = writer.data()
    validate_pain001(data, version)
    return data


def _version(version: str) -> _Version:
    spec = _VERSIONS.get(version)
    if spec is None:
        raise InvalidField(f"version: {version!r} is not one of {', '.join(VERSIONS)}")
    return spec


def _check_batch(batch: Batch, debtor: CompanyAccount, orders: Sequence[PaymentOrder]) -> None:
    """The orders are exactly the batch's, drawn on `debtor`, in its currency and on its date."""
    ids = tuple(order.instruction_id for order in orders)
    if not orders or ids != batch.instruction_ids:
        raise InvalidField(f"batch {batch.id}: the orders' instruction ids {list(ids)} are not "
                           f"the batch's {list(batch.instruction_ids)}")
    for order in orders:
        if order.debtor != debtor.id or order.amount.currency != batch.key.currency:
            raise InvalidField(f"order {order.id}: not drawn on {debtor.id} in "
                               f"{batch.key.currency.code}")
        if order.execution_date != batch.key.execution_date:
            raise InvalidField(f"order {order.id}: executes on {order.execution_date}, the "
                               f"batch on {batch.key.execution_date}")
    total = sum((order.amount.amount for order in orders), Decimal(0))
    if total != batch.total.amount or batch.total.currency != batch.key.currency:
        raise InvalidField(f"batch {batch.id}: orders total {total}, the batch says "
                           f"{batch.total}")


def _identifier(value: str, profile: _Profile, field: str) -> str:
    if not 0 < len(value) <= _MAX35 or profile.convert(value) != value or value.strip() != value:
        raise InvalidIdentifier(f"{field}: {value!r} must be 1-35 characters allowed by the "
                                f"{profile.name} profile")
    return value


def _checked_bics(bics: Mapping[str, str]) -> Mapping[str, str]:
    for bank, bic in bics.items():
        if not _BIC.fullmatch(bic):
            raise InvalidField(f"bics[{bank!r}]: {bic!r} is not a BIC (8 or 11 characters)")
    return bics


def _amount(value: Decimal) -> str:
    return f"{value:f}"


class _Writer:
    """Writes the message as text, pretty-printed as lxml writes it (two spaces a level).

    Text, not an lxml tree: building ~17 elements per payment through the C API cost more
    than everything else together (see docs/benchmarks.md); every message written is parsed
    and validated against the XSD afterwards, so a slip here can never reach a bank.
    """

    def __init__(self, spec: _Version, profile: _Profile, bics: Mapping[str, str]) -> None:
        self.spec, self.profile, self.bics = spec, profile, bics
        self.parts: list[str] = []
        self.chunks: list[bytes] = []  # the parts so far, encoded (a 100k batch: ~2M parts)
        self.indent = ""

    def open(self, name: str) -> None:
        self.parts.append(f"{self.indent}<{name}>\n")
        self.indent += "  "

    def close(self, name: str) -> None:
        self.indent = self.indent[:-2]
        self.parts.append(f"{self.indent}</{name}>\n")

    def leaf(self, name: str, text: str, attributes: str = "") -> None:
        self.parts.append(f"{self.indent}<{name}{attributes}>{_escape(text)}</{name}>\n")

    def path(self, path: str, text: str) -> None:
        *names, last = path.split("/")
        for name in names:
            self.open(name)
        self.leaf(last, text)
        for name in reversed(names):
            self.close(name)

    def flush(self) -> None:
        self.chunks.append("".join(self.parts).encode())
        self.parts.clear()

    def data(self) -> bytes:
        self.flush()
        return b"<?xml version='1.0' encoding='UTF-8'?>\n" + b"".join(self.chunks)

    def party(self, name: str, text: str) -> None:
        cleaned = self.profile.text(text, self.profile.name_max)
        if not cleaned:
            self.parts.append(f"{self.indent}<{name}/>\n")
            return
        self.open(name)
        self.leaf("Nm", cleaned)
        self.close(name)

    def account(self, name: str, number: AccountNumber, currency: str | None = None) -> None:
        self.open(name)
        self.path("Id/IBAN" if number.kind is AccountKind.IBAN else "Id/Othr/Id",
                  number.reveal())
        if currency:
            self.leaf("Ccy", currency)
        self.close(name)

    def agent(self, name: str, bank: str | None, fallback: str | None) -> None:
        bic = self.bics.get(bank) if bank else None
        if bic is None and fallback is None:
            return
        self.open(name)
        self.open("FinInstnId")
        if bic is not None:
            self.leaf(self.spec.bic_tag, bic)
        else:
            self.path("Othr/Id", fallback or "")
        self.close("FinInstnId")
        self.close(name)

    def payment_information(self, batch: Batch, debtor: CompanyAccount,
                            orders: Sequence[PaymentOrder]) -> None:
        self.open("PmtInf")
        self.leaf("PmtInfId", _identifier(batch.id, self.profile, "batch.id"))
        self.leaf("PmtMtd", "TRF")
        self.leaf("NbOfTxs", str(len(orders)))
        self.leaf("CtrlSum", _amount(batch.total.amount))
        if self.profile.name == "sepa":
            self.path("PmtTpInf/SvcLvl/Cd", "SEPA")
        when = batch.key.execution_date.isoformat()
        self.path("ReqdExctnDt/Dt" if self.spec.date_wrapped else "ReqdExctnDt", when)
        self.party("Dbtr", debtor.name)
        self.account("DbtrAcct", debtor.number, debtor.currency.code)
        # EPC: the debtor agent may be unknown to an IBAN-only file; NOTPROVIDED says so
        self.agent("DbtrAgt", debtor.bank, "NOTPROVIDED")
        self.leaf("ChrgBr", "SLEV" if self.profile.name == "sepa" else "SHAR")
        for n, order in enumerate(orders, 1):
            self.transaction(order)
            if n % 1000 == 0:
                self.flush()
        self.close("PmtInf")

    def transaction(self, order: PaymentOrder) -> None:
        self.open("CdtTrfTxInf")
        self.path("PmtId/EndToEndId", order.instruction_id)
        self.open("Amt")
        self.leaf("InstdAmt", _amount(order.amount.amount),
                  f' Ccy="{_escape(order.amount.currency.code)}"')
        self.close("Amt")
        payee = order.payee
        # SEPA is IBAN-only: the creditor agent is optional there, so without a BIC it is omitted
        self.agent("CdtrAgt", payee.bank, None if self.profile.name == "sepa" else payee.bank)
        self.party("Cdtr", payee.name)
        self.account("CdtrAcct", payee.account)
        remittance = self.profile.text(order.remittance, self.profile.text_max)
        if remittance:
            self.path("RmtInf/Ustrd", remittance)
        self.close("CdtTrfTxInf")


_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def _escape(text: str) -> str:
    return text.translate(_ESCAPES) if ("&" in text or "<" in text or ">" in text
                                         or '"' in text) else text


class _SchemaError(Protocol):
    """What lxml's log entries carry (lxml-stubs leave `_ErrorLog` opaque)."""

    line: int
    path: str
    message: str


@cache
def _schema(version: str) -> etree.XMLSchema:
    """The version's official XSD, loaded once, with network access and entities off."""
    name = f"{_version(version).name}.xsd"
    source = files("bankgate.formats.iso20022").joinpath("xsd", name).read_bytes()
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(source, parser))


def validate_pain001(data: bytes, version: str) -> None:
    """Check `data` against the official pain.001.001.`version` XSD.

    Raises:
        FormatError: naming the line and XPath of the first violation, or of bad XML.
    """
    schema = _schema(version)
    origin = _version(version).name
    if _DOCTYPE.search(data[:65536]):  # as formats/xml.py: no DTD, hence no entities
        raise FormatError(origin, "prolog", "a DOCTYPE or ENTITY declaration is not allowed")
    if _valid_as_stream(data, schema):
        return
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False,
                             huge_tree=False)
    try:
        document = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FormatError(origin, f"line {exc.lineno or '?'}",
                          f"not well-formed XML: {exc.msg}") from exc
    if not schema.validate(document):
        error = next(iter(cast("Iterable[_SchemaError]", schema.error_log)))
        raise FormatError(origin, f"line {error.line}, {_readable(document, error.path)}",
                          f"not valid against {origin}.xsd: {error.message}")


def _valid_as_stream(data: bytes, schema: etree.XMLSchema) -> bool:
    """True when `data` is well-formed and valid, checked while parsing with each payment
    freed as it passes (a 100k-payment file would otherwise be held as a tree of 1.7
    million elements); False sends the caller to the whole-tree check that names the place.
    """
    events = etree.iterparse(io.BytesIO(data), events=("end",),
                             tag=("{*}CdtTrfTxInf", "{*}Document"), schema=schema,
                             no_network=True, resolve_entities=False, load_dtd=False,
                             huge_tree=False)
    ended = False
    try:
        for _, element in events:
            ended = element.getparent() is None  # the root's end: the document is whole
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError:  # not well-formed, or not valid: both raise here
        return False
    return ended  # iterparse does not always raise on a document cut between elements


def _readable(document: etree._Element, path: str) -> str:
    """libxml2's /*/*[2] path as local names (/Document/CstmrCdtTrfInitn/PmtInf/PmtMtd)."""
    found = document.getroottree().xpath(path) if path else []
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return xpath_of(found[0])
    return path
