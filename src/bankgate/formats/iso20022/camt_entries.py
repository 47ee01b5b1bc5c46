"""camt entries, transactions and balances → domain values, and the entries' identity.

**Entry identity**: the account servicer reference when it is unique in the statement; else
the UETR or transaction id of a single-transaction entry; else a composite key of booking
date, amount, counterparty, remittance and an occurrence number, so two genuinely identical
payments on one day stay two entries, and re-reading the same file maps each to itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from lxml import etree

from bankgate.domain import (
    Balance,
    BalanceType,
    Currency,
    EntryDetail,
    EntryKey,
    EntryStatus,
    Money,
    Source,
    StatementEntry,
    composite_entry_key,
    currency,
)
from bankgate.errors import DomainError, FormatError
from bankgate.formats.iso20022.camt_fields import (
    DETAIL_PATHS,
    ENTRY_PATHS,
    Spec,
    build_spec,
    datetime_of,
    first,
    pull,
)
from bankgate.formats.stream import Occurrences

__all__ = ["Converter", "reference_of", "rekey_repeated", "repeated_references"]

_BALANCE_TYPES: Final = {
    "OPBD": BalanceType.OPENING_BOOKED, "CLBD": BalanceType.CLOSING_BOOKED,
    "CLAV": BalanceType.CLOSING_AVAILABLE, "ITBD": BalanceType.INTERIM_BOOKED,
    "ITAV": BalanceType.INTERIM_AVAILABLE, "FWAV": BalanceType.FORWARD_AVAILABLE,
    "OPAV": BalanceType.OPENING_AVAILABLE, "PRCD": BalanceType.PREVIOUSLY_CLOSED_BOOKED,
}
_STATUS: Final = {"BOOK": EntryStatus.BOOKED, "PDNG": EntryStatus.PENDING,
                  "INFO": EntryStatus.INFO}
_SPECS: dict[str, tuple[Spec, Spec]] = {}
_MONEY_MAX: Final = 8192


def _specs(namespace: str) -> tuple[Spec, Spec]:
    found = _SPECS.get(namespace)
    if found is None:
        found = _SPECS[namespace] = (build_spec(ENTRY_PATHS, namespace),
                                     build_spec(DETAIL_PATHS, namespace))
    return found


def namespace_of(tag: str) -> str:
    """"{urn:...}" of a qualified tag, "" for an unqualified one."""
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def reference_tag(statement_tag: str) -> str:
    """The qualified tag of an entry's AcctSvcrRef in the namespace of its statement."""
    return namespace_of(statement_tag) + "AcctSvcrRef"


def entry_reference(node: etree._Element, ref_tag: str) -> str | None:
    """An entry's own account servicer reference (`ref_tag` from `reference_tag`), read as
    `Converter.entry` reads it.

    lxml picks the children by tag in C: one proxy instead of one per child (census pass).
    """
    for child in node.iterchildren(ref_tag):
        text = child.text.strip() if child.text else ""
        if text:
            return text
    return None


class Converter:
    """Reads the elements of one statement (in the namespace of `tag`) into domain values."""

    def __init__(self, tag: str, origin: str, where: str) -> None:
        self.ns = namespace_of(tag)
        self.entry_spec, self.detail_spec = _specs(self.ns)
        self.origin, self.where = origin, where
        self._money: dict[tuple[str, str, int], Money] = {}
        self._paths: dict[str, str] = {}

    def fail(self, where: str, message: str) -> FormatError:
        return FormatError(self.origin, f"{self.where}{where}", message)

    # -- lookups by local-name path, done by lxml in C ("Tp/Cd" → "{ns}Tp/{ns}Cd")
    def _q(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            found = self._paths[path] = "/".join(self.ns + step for step in path.split("/"))
        return found

    def child(self, node: etree._Element, path: str) -> etree._Element | None:
        return node.find(self._q(path))

    def text(self, node: etree._Element, path: str) -> str | None:
        text = node.findtext(self._q(path))
        return text.strip() or None if text else None

    def all(self, node: etree._Element, name: str) -> list[etree._Element]:
        return node.findall(self._q(name))

    # -- values
    def moment(self, text: str, where: str) -> datetime:
        try:
            return datetime_of(text)
        except ValueError as exc:
            raise self.fail(where, f"{text!r} is not a date or date-time") from exc

    def date(self, text: str | None, where: str, field: str = "") -> date | None:
        """The date of `text`; a failure names `where` + `field`, joined only then."""
        if not text:
            return None
        try:
            return datetime_of(text).date()
        except ValueError as exc:
            raise self.fail(where + field, f"{text!r} is not a date or date-time") from exc

    def ccy(self, code: str, where: str) -> Currency:
        try:
            return currency(code)
        except DomainError as exc:
            raise self.fail(where, str(exc)) from exc

    def money(self, node: etree._Element | None, parent: str, *, sign: int = 1) -> Money:
        """The amount of an `Amt` element in the element at `parent` (an XPath)."""
        text = (node.text or "").strip() if node is not None else ""
        if node is None or not text:
            raise self.fail(parent + "/Amt", "the amount is missing")
        code = node.get("Ccy") or ""
        key = (text, code, sign)
        found = self._money.get(key)
        if found is None:  # the place is spelt out only for a new amount, not per entry
            found = self._new_money(text, code, sign, parent + "/Amt")
            if len(self._money) >= _MONEY_MAX:
                self._money.clear()
            self._money[key] = found
        return found

    def _new_money(self, text: str, code: str, sign: int, where: str) -> Money:
        cur = self.ccy(code, f"{where}/@Ccy")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise self.fail(where, f"{text!r} is not a decimal amount") from exc
        exact = value.quantize(cur.quantum) if value.is_finite() else None
        if exact is None or exact != value:
            raise self.fail(where, f"{text} is not an amount in {cur.code} "
                            f"({cur.minor_units} decimals)")
        try:
            return Money(sign * exact, cur)
        except DomainError as exc:
            raise self.fail(where, str(exc)) from exc

    def balance(self, node: etree._Element, n: int, created: str | None) -> Balance:
        where = f"/Bal[{n}]"
        code = self.text(node, "Tp/CdOrPrtry/Cd") or self.text(node, "Tp/CdOrPrtry/Prtry") or ""
        sign = -1 if self.text(node, "CdtDbtInd") == "DBIT" else 1
        # A balance without a date (seen in real files) is taken as of the statement's creation.
        when = self.text(node, "Dt/Dt") or self.text(node, "Dt/DtTm") or created
        if when is None:
            raise self.fail(f"{where}/Dt", "the balance has no date, nor the statement one")
        return Balance(account="", type=_BALANCE_TYPES.get(code, BalanceType.OTHER), code=code,
                       amount=self.money(self.child(node, "Amt"), where, sign=sign),
                       as_of=self.moment(when, f"{where}/Dt"),
                       source=Source(origin=self.origin, where=self.where + where))

    def entry(self, node: etree._Element, n: int, seen: Occurrences) -> StatementEntry:
        """The `n`th entry of the statement; `seen` counts twins for composite keys."""
        texts: dict[str, str] = {}
        elements: dict[str, list[etree._Element]] = {}
        pull(node, self.entry_spec, texts, elements)
        where = f"/Ntry[{n}]"
        sign = -1 if texts.get("CdtDbtInd") == "DBIT" else 1
        amount = self.money(first(elements, "Amt"), where, sign=sign)
        status_code = texts.get("Sts/Cd") or texts.get("Sts") or "BOOK"
        booking = self.date(texts.get("BookgDt/Dt") or texts.get("BookgDt/DtTm"), where,
                            "/BookgDt")
        value = self.date(texts.get("ValDt/Dt") or texts.get("ValDt/DtTm"), where, "/ValDt")
        found = elements.get("NtryDtls/TxDtls")
        details = tuple(self.detail(d, sign, where, i) for i, d in enumerate(found, 1)) \
            if found else ()
        one = details[0] if len(details) == 1 else _NO_DETAIL
        servicer_ref = texts.get("AcctSvcrRef")
        remittance = one.remittance or texts.get("AddtlNtryInf")
        key = _entry_key(servicer_ref, details, booking, amount, one.counterparty_name or "",
                         remittance or "", seen)
        return StatementEntry(
            key=key, amount=amount, status=_STATUS.get(status_code, EntryStatus.INFO),
            booking_date=booking, value_date=value, bank_reference=servicer_ref,
            end_to_end_id=one.end_to_end_id, counterparty_name=one.counterparty_name,
            counterparty_account=one.counterparty_account, remittance=remittance,
            source=Source(origin=self.origin, where=self.where + where),
            account_servicer_reference=servicer_ref, instruction_id=one.instruction_id,
            is_reversal=texts.get("RvslInd") == "true", bank_transaction_code=_bank_code(texts),
            transactions=details)

    def detail(self, node: etree._Element, sign: int, entry: str, n: int) -> EntryDetail:
        """The `n`th transaction (TxDtls) of the entry at `entry` (an XPath)."""
        texts: dict[str, str] = {}
        elements: dict[str, list[etree._Element]] = {}
        pull(node, self.detail_spec, texts, elements)
        amount_node = first(elements, "AmtDtls/TxAmt/Amt")
        if amount_node is None:
            amount_node = first(elements, "Amt")
        amount = self.money(amount_node, f"{entry}/NtryDtls/TxDtls[{n}]", sign=sign) \
            if amount_node is not None else None
        name, name_in_party, iban, other_id = _PARTY_PATHS[sign]
        lines = elements.get("RmtInf/Ustrd")
        remittance = " ".join(t for t in (u.text.strip() for u in lines if u.text) if t) \
            if lines else None
        return EntryDetail(
            amount=amount, end_to_end_id=_clean_ref(texts.get("Refs/EndToEndId")),
            instruction_id=texts.get("Refs/InstrId"), transaction_id=texts.get("Refs/TxId"),
            uetr=texts.get("Refs/UETR"), account_servicer_reference=texts.get("Refs/AcctSvcrRef"),
            counterparty_name=texts.get(name) or texts.get(name_in_party),
            counterparty_account=texts.get(iban) or texts.get(other_id),
            remittance=remittance or None,
            structured_reference=texts.get("RmtInf/Strd/CdtrRefInf/Ref"),
            return_reason=texts.get("RtrInf/Rsn/Cd"))


_NO_DETAIL: Final = EntryDetail()
#: The counterparty of a credit is its debtor, of a debit its creditor.
_PARTY_PATHS: Final = {
    sign: (f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm",
           f"RltdPties/{party}Acct/Id/IBAN", f"RltdPties/{party}Acct/Id/Othr/Id")
    for sign, party in ((1, "Dbtr"), (-1, "Cdtr"))}


def reference_of(entry: StatementEntry) -> str | None:
    """The reference whose repetition in a statement decides the entry's key."""
    return entry.bank_reference


def repeated_references(entries: Iterable[StatementEntry]) -> frozenset[str]:
    """Bank references that more than one entry keyed by them carries."""
    counts = Counter(e.bank_reference for e in entries if e.key.kind == "bank_reference")
    return frozenset(ref for ref, n in counts.items() if n > 1 and ref)


def rekey_repeated(e: StatementEntry, seen: Occurrences) -> StatementEntry:
    """An entry whose bank reference repeats in its statement, with a composite key."""
    fields = (e.booking_date, e.amount, e.counterparty_name, e.remittance, e.bank_reference)
    return replace(e, key=composite_entry_key(
        booking_date=e.booking_date or date.min, amount=e.amount,
        counterparty=f"{e.counterparty_name or ''}|{e.bank_reference or ''}",
        remittance=e.remittance or "", occurrence=seen.add(fields)))


def _entry_key(servicer_ref: str | None, details: tuple[EntryDetail, ...],
               booking: date | None, amount: Money, counterparty: str, remittance: str,
               seen: Occurrences) -> EntryKey:
    """The entry's identity: the bank's reference (made unique later), else UETR/TxId,
    else a composite key with an occurrence number."""
    if servicer_ref:
        return EntryKey("bank_reference", servicer_ref[:64])
    if len(details) == 1 and details[0].uetr:
        return EntryKey("uetr", details[0].uetr)
    if len(details) == 1 and details[0].transaction_id:
        return EntryKey("tx_id", details[0].transaction_id[:64])
    fields = (booking, amount, counterparty, remittance, servicer_ref)
    return composite_entry_key(booking_date=booking or date.min, amount=amount,
                               counterparty=f"{counterparty}|{servicer_ref or ''}",
                               remittance=remittance, occurrence=seen.add(fields))


def _clean_ref(ref: str | None) -> str | None:
    return None if ref in (None, "NOTPROVIDED") else ref


def _bank_code(texts: dict[str, str]) -> str | None:
    domain = texts.get("BkTxCd/Domn/Cd")
    if domain:
        parts = (domain, texts.get("BkTxCd/Domn/Fmly/Cd"), texts.get("BkTxCd/Domn/Fmly/SubFmlyCd"))
        return "/".join(p for p in parts if p)
    return texts.get("BkTxCd/Prtry/Cd")
