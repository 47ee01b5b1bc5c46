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
from typing import Any, Final

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
from bankgate.formats.iso20022.camt_fields import ENTRY_PLAN, datetime_of
from bankgate.formats.speedups import maker, pull_values
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
_MONEY_MAX: Final = 8192
#: Entries and their parts are built from values in these orders (`speedups.maker`).
_new_entry: Final = maker(StatementEntry, (
    "key", "amount", "status", "booking_date", "value_date", "bank_reference", "end_to_end_id",
    "counterparty_name", "counterparty_account", "remittance", "source", "raw",
    "account_servicer_reference", "instruction_id", "is_reversal", "bank_transaction_code",
    "transactions"))
_new_detail: Final = maker(EntryDetail, (
    "amount", "end_to_end_id", "instruction_id", "transaction_id", "uetr",
    "account_servicer_reference", "counterparty_name", "counterparty_account", "remittance",
    "structured_reference", "return_reason"))
_new_source: Final = maker(Source, ("origin", "where"))
_new_key: Final = maker(EntryKey, ("kind", "value"))


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
        self.href = self.ns[1:-1].encode() if self.ns else None
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

    def money(self, amount: tuple[str, str] | None, parent: str, *, sign: int = 1) -> Money:
        """The amount of an `Amt` element (its text and `Ccy`) in the element at `parent`
        (an XPath)."""
        if amount is None or not amount[0]:
            raise self.fail(parent + "/Amt", "the amount is missing")
        text, code = amount
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
        try:
            exact = value.quantize(cur.quantum) if value.is_finite() else None
        except InvalidOperation as exc:  # more digits than Decimal holds
            raise self.fail(where, f"{text} is larger than any amount bankgate accepts") \
                from exc
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
                       amount=self.money(_amount_of(self.child(node, "Amt")), where,
                                         sign=sign),
                       as_of=self.moment(when, f"{where}/Dt"),
                       source=Source(origin=self.origin, where=self.where + where))

    def entry(self, node: etree._Element, n: int, seen: Occurrences) -> StatementEntry:
        """The `n`th entry of the statement; `seen` counts twins for composite keys."""
        (amt, indicator, reversal, sts, sts_cd, booked, booked_at, valued, valued_at,
         servicer_ref, domain, family, sub_family, proprietary, info,
         transactions) = pull_values(node, ENTRY_PLAN, self.href)
        where = f"/Ntry[{n}]"
        sign = -1 if indicator == "DBIT" else 1
        amount = self.money(amt, where, sign=sign)
        booking = self.date(booked or booked_at, where, "/BookgDt")
        value = self.date(valued or valued_at, where, "/ValDt")
        details = tuple(self.detail(d, sign, where, i) for i, d in enumerate(transactions, 1)) \
            if transactions else ()
        one = details[0] if len(details) == 1 else _NO_DETAIL
        remittance = one.remittance or info
        key = _entry_key(servicer_ref, details, booking, amount, one.counterparty_name or "",
                         remittance or "", seen)
        code = "/".join(p for p in (domain, family, sub_family) if p) if domain else proprietary
        return _new_entry(
            key, amount, _STATUS.get(sts_cd or sts or "BOOK", EntryStatus.INFO), booking, value,
            servicer_ref, one.end_to_end_id, one.counterparty_name, one.counterparty_account,
            remittance, _new_source(self.origin, self.where + where), b"", servicer_ref,
            one.instruction_id, reversal == "true", code, details)

    def detail(self, values: list[Any], sign: int, entry: str, n: int) -> EntryDetail:
        """The `n`th transaction (TxDtls, its values by DETAIL_PLAN) of the entry at `entry`
        (an XPath)."""
        (tx_amt, amt, end_to_end, instruction, tx_id, uetr, servicer_ref, debtor,
         debtor_in_party, creditor, creditor_in_party, debtor_iban, debtor_other,
         creditor_iban, creditor_other, lines, creditor_ref, return_reason) = values
        found = tx_amt or amt
        amount = self.money(found, f"{entry}/NtryDtls/TxDtls[{n}]", sign=sign) \
            if found is not None else None
        if sign > 0:  # the counterparty of a credit is its debtor, of a debit its creditor
            name, account = debtor or debtor_in_party, debtor_iban or debtor_other
        else:
            name, account = creditor or creditor_in_party, creditor_iban or creditor_other
        return _new_detail(
            amount, None if end_to_end == "NOTPROVIDED" else end_to_end, instruction, tx_id,
            uetr, servicer_ref, name, account,
            " ".join(lines) if lines else None,
            creditor_ref, return_reason)


def _amount_of(node: etree._Element | None) -> tuple[str, str] | None:
    """An `Amt` element's stripped text and `Ccy`, as `pull_values` gives an AMOUNT."""
    return None if node is None else ((node.text or "").strip(), node.get("Ccy") or "")


_NO_DETAIL: Final = EntryDetail()


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
        return _new_key("bank_reference", servicer_ref[:64])
    if len(details) == 1 and details[0].uetr:
        return EntryKey("uetr", details[0].uetr)
    if len(details) == 1 and details[0].transaction_id:
        return EntryKey("tx_id", details[0].transaction_id[:64])
    fields = (booking, amount, counterparty, remittance, servicer_ref)
    return composite_entry_key(booking_date=booking or date.min, amount=amount,
                               counterparty=f"{counterparty}|{servicer_ref or ''}",
                               remittance=remittance, occurrence=seen.add(fields))
