"""camt.052 (account report), camt.053 (statement), camt.054 (debit/credit notification).

ISO 20022 BankToCustomer* messages, every version from 001.01 to 001.08 and later: elements
are found by local name, so versions differ only where their content differs — the entry
status is a plain code up to .04 (`<Sts>BOOK</Sts>`) and a choice from .05 on
(`<Sts><Cd>BOOK</Cd></Sts>`); dates are `Dt` or `DtTm` in both. Files are read as a
stream, one statement at a time (memory bounded by the largest statement).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Final

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
    Statement,
    StatementEntry,
    composite_entry_key,
    currency,
)
from bankgate.errors import DomainError, FormatError
from bankgate.formats.xml import iter_elements, local

__all__ = ["CAMT_TAGS", "detect_camt", "read_camt"]

#: The element that holds one statement, per message.
CAMT_TAGS: Final = frozenset({"Stmt", "Rpt", "Ntfctn"})
_NAMESPACE: Final = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:(camt\.05[234]\.\d{3}\.\d{2})")
_BALANCE_TYPES: Final = {
    "OPBD": BalanceType.OPENING_BOOKED, "CLBD": BalanceType.CLOSING_BOOKED,
    "CLAV": BalanceType.CLOSING_AVAILABLE, "ITBD": BalanceType.INTERIM_BOOKED,
    "ITAV": BalanceType.INTERIM_AVAILABLE, "FWAV": BalanceType.FORWARD_AVAILABLE,
    "OPAV": BalanceType.OPENING_AVAILABLE, "PRCD": BalanceType.PREVIOUSLY_CLOSED_BOOKED,
}
#: Account ids other than IBAN, newest form first (PrtryAcct and BBAN are camt.05x.001.01).
_OTHER_IDS: Final = ("Id/Othr/Id", "Id/PrtryAcct/Id", "Id/BBAN", "Id/UPIC")
_STATUS: Final = {"BOOK": EntryStatus.BOOKED, "PDNG": EntryStatus.PENDING,
                  "INFO": EntryStatus.INFO}


def detect_camt(head: bytes) -> str | None:
    """The message and version named by the file's namespace (camt.053.001.02), if any."""
    found = _NAMESPACE.search(head)
    return found.group(1).decode() if found else None


def read_camt(stream: IO[bytes], origin: str) -> Iterator[Statement]:
    """Every statement (report, notification) in a camt.052/053/054 file, in order.

    Raises:
        FormatError: naming the file and the place (XPath) of what cannot be read; a file
            with no statement at all is an error, never an empty success.
    """
    count = 0
    current: _Statement | None = None
    for element in iter_elements(stream, origin, CAMT_TAGS | {"Ntry"}, free=False):
        parent = element.getparent()
        if local(element.tag) == "Ntry":
            if parent is None or local(parent.tag) not in CAMT_TAGS:
                continue  # an Ntry is always directly in its statement
            if current is None or current.el is not parent:
                current = _Statement(parent, origin, f"/{local(parent.tag)}[{count + 1}]")
            current.add_entry(element)
            _free_entry(element)
            continue
        if parent is None or not local(parent.tag).startswith("BkToCstmr"):
            continue  # a same-named element deeper down is not a statement
        count += 1
        if current is None or current.el is not element:
            current = _Statement(element, origin, f"/{local(element.tag)}[{count}]")
        yield current.build()
        current = None
        _free_entry(element)
    if count == 0:
        raise FormatError(origin, "/Document", "no statement, report or notification "
                          "(Stmt, Rpt, Ntfctn) in the file")


def _free_entry(element: etree._Element) -> None:
    """Drop a converted element and the already-converted siblings before it."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        previous = element.getprevious()
        if previous is None or local(previous.tag) != local(element.tag):
            break  # keep the statement's header (Id, Acct, Bal) for build()
        parent.remove(previous)


class _Statement:
    def __init__(self, element: etree._Element, origin: str, where: str) -> None:
        self.el, self.origin, self.where = element, origin, where
        _use_namespace(str(element.tag))
        self._entries: list[StatementEntry] = []
        self._seen: Counter[tuple[object, ...]] = Counter()
        self._refs: Counter[str | None] = Counter()
        self._pending: list[tuple[etree._Element, str]] = []

    def add_entry(self, node: etree._Element) -> None:
        """Convert one entry as soon as the parser has it."""
        n = len(self._entries) + 1
        self._entries.append(self.entry(node, f"/Ntry[{n}]", self._seen, None))

    def fail(self, where: str, message: str) -> FormatError:
        return FormatError(self.origin, f"{self.where}{where}", message)

    def build(self) -> Statement:
        account = _child(self.el, "Acct")
        if account is None:
            raise self.fail("/Acct", "the account (Acct) is missing")
        iban = _text(account, "Id/IBAN")
        number = iban or next((_text(account, p) for p in _OTHER_IDS if _text(account, p)), None)
        if not number:
            raise self.fail("/Acct/Id", "the account has neither an IBAN nor another id")
        balances = tuple(self.balance(b, n) for n, b in enumerate(_all(self.el, "Bal"), 1))
        cur = self.currency(_text(account, "Ccy"), balances)
        entries = _unique_references(tuple(self._entries))
        opening = _pick(balances, BalanceType.OPENING_BOOKED,
                        BalanceType.PREVIOUSLY_CLOSED_BOOKED)
        closing = _pick(balances, BalanceType.CLOSING_BOOKED)
        statement_id = _text(self.el, "Id") or ""
        if not statement_id:
            raise self.fail("/Id", "the statement id (Id) is missing")
        on = closing.as_of.date() if closing else self.date(_text(self.el, "CreDtTm"),
                                                             "/CreDtTm")
        return Statement(id=statement_id, account=number, currency=cur, opening=opening,
                         closing=closing, entries=entries,
                         source=Source(origin=self.origin, where=self.where), on=on,
                         iban=iban, balances=balances, created_at=self.created_at())

    def created_at(self) -> datetime | None:
        """Stmt/CreDtTm, else the message's GrpHdr/CreDtTm (camt.053 1.2.2)."""
        message = self.el.getparent()
        header = _child(message, "GrpHdr") if message is not None else None
        text = _text(self.el, "CreDtTm") or (_text(header, "CreDtTm") if header is not None
                                             else None)
        return self.moment(text, "/CreDtTm") if text else None

    def currency(self, declared: str | None, balances: tuple[Balance, ...]) -> Currency:
        code = declared or (balances[0].amount.currency.code if balances else None)
        if code is None and self._entries:
            code = self._entries[0].amount.currency.code
        if code is None:
            raise self.fail("/Acct/Ccy", "no currency: neither the account nor any amount "
                            "names one")
        return self.ccy(code, "/Acct/Ccy")

    def moment(self, text: str, where: str) -> datetime:
        try:
            return _datetime_of(text)
        except ValueError as exc:
            raise self.fail(where, f"{text!r} is not a date or date-time") from exc

    def date(self, text: str | None, where: str) -> date | None:
        return self.moment(text, where).date() if text else None

    def ccy(self, code: str, where: str) -> Currency:
        try:
            return currency(code)
        except DomainError as exc:
            raise self.fail(where, str(exc)) from exc

    def money(self, node: etree._Element | None, where: str, *, sign: int = 1) -> Money:
        text = (node.text or "").strip() if node is not None else ""
        if node is None or not text:
            raise self.fail(where, "the amount is missing")
        cur = self.ccy(node.get("Ccy") or "", f"{where}/@Ccy")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise self.fail(where, f"{text!r} is not a decimal amount") from exc
        exact = value.quantize(cur.quantum) if value.is_finite() else None
        if exact is None or exact != value:
            raise self.fail(where, f"{text} is not an amount in {cur.code} "
                            f"({cur.minor_units} decimals)")
        return Money(sign * exact, cur)

    def balance(self, node: etree._Element, n: int) -> Balance:
        where = f"/Bal[{n}]"
        code = _text(node, "Tp/CdOrPrtry/Cd") or _text(node, "Tp/CdOrPrtry/Prtry") or ""
        sign = -1 if _text(node, "CdtDbtInd") == "DBIT" else 1
        # A balance without a date (seen in real files) is taken as of the statement's creation.
        when = _text(node, "Dt/Dt") or _text(node, "Dt/DtTm") or _text(self.el, "CreDtTm")
        if when is None:
            raise self.fail(f"{where}/Dt", "the balance has no date, nor the statement one")
        return Balance(account="", type=_BALANCE_TYPES.get(code, BalanceType.OTHER), code=code,
                       amount=self.money(_child(node, "Amt"), f"{where}/Amt", sign=sign),
                       as_of=self.moment(when, f"{where}/Dt"), source=Source(origin=self.origin,
                                                               where=self.where + where))

    def entry(self, node: etree._Element, where: str, seen: Counter[tuple[object, ...]],
              refs: Counter[str | None] | None) -> StatementEntry:
        own = _index(node, stop="NtryDtls")  # one walk; TxDtls are indexed on their own
        sign = -1 if own.get("CdtDbtInd") == "DBIT" else 1
        amount = self.money(_child(node, "Amt"), f"{where}/Amt", sign=sign)
        status_code = own.get("Sts/Cd") or own.get("Sts") or "BOOK"
        booking = self.date(own.get("BookgDt/Dt") or own.get("BookgDt/DtTm"), f"{where}/BookgDt")
        value = self.date(own.get("ValDt/Dt") or own.get("ValDt/DtTm"), f"{where}/ValDt")
        details = tuple(self.detail(d, sign, f"{where}/NtryDtls/TxDtls[{i}]")
                        for i, d in enumerate(_all_deep(node, "TxDtls"), 1))
        first = details[0] if len(details) == 1 else EntryDetail()
        servicer_ref = own.get("AcctSvcrRef")
        remittance = first.remittance or own.get("AddtlNtryInf")
        counterparty = first.counterparty_name or ""
        key = _entry_key(servicer_ref, refs, details, booking, amount, counterparty,
                         remittance or "", seen)
        return StatementEntry(
            key=key, amount=amount, status=_STATUS.get(status_code, EntryStatus.INFO),
            booking_date=booking, value_date=value, bank_reference=servicer_ref,
            end_to_end_id=first.end_to_end_id, counterparty_name=first.counterparty_name,
            counterparty_account=first.counterparty_account, remittance=remittance,
            source=Source(origin=self.origin, where=self.where + where),
            account_servicer_reference=servicer_ref, instruction_id=first.instruction_id,
            is_reversal=own.get("RvslInd") == "true", bank_transaction_code=_bank_code(own),
            transactions=details)

    def detail(self, node: etree._Element, sign: int, where: str) -> EntryDetail:
        own = _index(node)
        amount_node = _find(node, "AmtDtls/TxAmt/Amt")
        if amount_node is None:
            amount_node = _child(node, "Amt")
        amount = self.money(amount_node, where + "/Amt", sign=sign) if amount_node is not None \
            else None
        party = "Dbtr" if sign > 0 else "Cdtr"
        texts = [t.text.strip() for t in _all_deep(node, "Ustrd") if t.text and t.text.strip()]
        return EntryDetail(
            amount=amount, end_to_end_id=_clean_ref(own.get("Refs/EndToEndId")),
            instruction_id=own.get("Refs/InstrId"), transaction_id=own.get("Refs/TxId"),
            uetr=own.get("Refs/UETR"), account_servicer_reference=own.get("Refs/AcctSvcrRef"),
            counterparty_name=own.get(f"RltdPties/{party}/Nm")
            or own.get(f"RltdPties/{party}/Pty/Nm"),
            counterparty_account=own.get(f"RltdPties/{party}Acct/Id/IBAN")
            or own.get(f"RltdPties/{party}Acct/Id/Othr/Id"),
            remittance=" ".join(texts) or None,
            structured_reference=own.get("RmtInf/Strd/CdtrRefInf/Ref"),
            return_reason=own.get("RtrInf/Rsn/Cd"))


def _index(node: etree._Element, stop: str = "") -> dict[str, str]:
    """The text of every descendant by its local-name path (first occurrence wins).

    One walk of the subtree instead of a lookup per field; `stop` names a child whose
    subtree is left out (it is read on its own).
    """
    found: dict[str, str] = {}
    cut = len(_NS[0])

    def walk(element: etree._Element, prefix: str) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            name = prefix + tag[cut:]
            if name == stop:
                continue
            text = child.text
            if text is not None and name not in found:
                stripped = text.strip()
                if stripped:
                    found[name] = stripped
            if len(child):
                walk(child, name + "/")

    walk(node, "")
    return found


def _unique_references(entries: tuple[StatementEntry, ...]) -> tuple[StatementEntry, ...]:
    """Entries whose bank reference repeats in the statement fall back to composite keys."""
    counts = Counter(e.bank_reference for e in entries if e.key.kind == "bank_reference")
    if all(n == 1 for n in counts.values()):
        return entries
    seen: Counter[tuple[object, ...]] = Counter()
    fixed = []
    for e in entries:
        if e.key.kind == "bank_reference" and counts[e.bank_reference] > 1:
            fields = (e.booking_date, e.amount, e.counterparty_name, e.remittance,
                      e.bank_reference)
            seen[fields] += 1
            e = replace(e, key=composite_entry_key(
                booking_date=e.booking_date or date.min, amount=e.amount,
                counterparty=f"{e.counterparty_name or ''}|{e.bank_reference or ''}",
                remittance=e.remittance or "", occurrence=seen[fields]))
        fixed.append(e)
    return tuple(fixed)


def _entry_key(servicer_ref: str | None, refs: Counter[str | None] | None,
               details: tuple[EntryDetail, ...], booking: date | None, amount: Money,
               counterparty: str, remittance: str,
               seen: Counter[tuple[object, ...]]) -> EntryKey:
    """The entry's identity: the bank's reference (made unique later), else UETR/TxId,
    else a composite key with an occurrence number."""
    if servicer_ref:
        return EntryKey("bank_reference", servicer_ref[:64])
    if len(details) == 1 and details[0].uetr:
        return EntryKey("uetr", details[0].uetr)
    if len(details) == 1 and details[0].transaction_id and not servicer_ref:
        return EntryKey("tx_id", details[0].transaction_id[:64])
    fields = (booking, amount, counterparty, remittance, servicer_ref)
    seen[fields] += 1
    return composite_entry_key(booking_date=booking or date.min, amount=amount,
                               counterparty=f"{counterparty}|{servicer_ref or ''}",
                               remittance=remittance, occurrence=seen[fields])


def _clean_ref(ref: str | None) -> str | None:
    return None if ref in (None, "NOTPROVIDED") else ref


def _bank_code(own: dict[str, str]) -> str | None:
    domain = own.get("BkTxCd/Domn/Cd")
    if domain:
        parts = (domain, own.get("BkTxCd/Domn/Fmly/Cd"), own.get("BkTxCd/Domn/Fmly/SubFmlyCd"))
        return "/".join(p for p in parts if p)
    return own.get("BkTxCd/Prtry/Cd")


def _pick(balances: tuple[Balance, ...], *types: BalanceType) -> Balance | None:
    for wanted in types:
        for balance in balances:
            if balance.type is wanted:
                return balance
    return None


# Element lookups by local name, done by lxml in C with the file's namespace prefixed to
# every step ("Tp/CdOrPrtry/Cd" → "{ns}Tp/{ns}CdOrPrtry/{ns}Cd"); paths are cached.
_NS: list[str] = [""]
_PATHS: dict[tuple[str, str], str] = {}


def _use_namespace(tag: str) -> None:
    _NS[0] = tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def _q(path: str) -> str:
    key = (_NS[0], path)
    found = _PATHS.get(key)
    if found is None:
        found = _PATHS[key] = "/".join(_NS[0] + step for step in path.split("/"))
    return found


def _child(node: etree._Element, name: str) -> etree._Element | None:
    return node.find(_q(name))


def _find(node: etree._Element, path: str) -> etree._Element | None:
    return node.find(_q(path))


def _text(node: etree._Element, path: str) -> str | None:
    text = node.findtext(_q(path))
    return text.strip() or None if text else None


def _all(node: etree._Element, name: str) -> list[etree._Element]:
    return node.findall(_q(name))


def _all_deep(node: etree._Element, name: str) -> list[etree._Element]:
    return list(node.iter(_q(name)))


def _datetime_of(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
