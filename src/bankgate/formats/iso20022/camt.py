"""camt.052 (account report), camt.053 (statement), camt.054 (debit/credit notification).

ISO 20022 BankToCustomer* messages, every version from 001.01 to 001.08 and later: elements
are found by local name, so versions differ only where their content differs — the entry
status is a plain code up to .04 (`<Sts>BOOK</Sts>`) and a choice from .05 on
(`<Sts><Cd>BOOK</Cd></Sts>`); dates are `Dt` or `DtTm` in both.

`stream_camt` yields a stream of events (`formats/stream.py`): memory stays bounded however
many entries a statement has (L-06). `read_camt` gives whole statements.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Final

from lxml import etree

from bankgate.domain import (
    Balance,
    BalanceType,
    Currency,
    Source,
    Statement,
    StatementEntry,
)
from bankgate.errors import FormatError
from bankgate.formats.iso20022.camt_census import scan_repeated_references
from bankgate.formats.iso20022.camt_entries import (
    Converter,
    entry_reference,
    reference_of,
    reference_tag,
    rekey_repeated,
    repeated_references,
)
from bankgate.formats.stream import (
    Occurrences,
    StatementEnd,
    StatementEvent,
    StatementStart,
    collect,
)
from bankgate.formats.xml import iter_elements, local

__all__ = ["CAMT_TAGS", "STREAM_BUFFER", "detect_camt", "read_camt", "stream_camt"]

#: The element that holds one statement, per message.
CAMT_TAGS: Final = frozenset({"Stmt", "Rpt", "Ntfctn"})
#: Entries of one statement held back (to settle their identity) before streaming starts.
STREAM_BUFFER: Final = 10_000
_NAMESPACE: Final = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:(camt\.05[234]\.\d{3}\.\d{2})")
#: Account ids other than IBAN, newest form first (PrtryAcct and BBAN are camt.05x.001.01).
_OTHER_IDS: Final = ("Id/Othr/Id", "Id/PrtryAcct/Id", "Id/BBAN", "Id/UPIC")


def detect_camt(head: bytes) -> str | None:
    """The message and version named by the file's namespace (camt.053.001.02), if any."""
    found = _NAMESPACE.search(head)
    return found.group(1).decode() if found else None


def read_camt(stream: IO[bytes], origin: str) -> Iterator[Statement]:
    """Every statement (report, notification) in a camt.052/053/054 file, in order, whole.

    Raises:
        FormatError: naming the file and the place (XPath) of what cannot be read; a file
            with no statement at all is an error, never an empty success.
    """
    return collect(stream_camt(stream, origin, buffer=None))


def stream_camt(stream: IO[bytes], origin: str, *,
                buffer: int | None = STREAM_BUFFER) -> Iterator[StatementEvent]:
    """The statements of a camt file as events: start, each entry, end.

    Up to `buffer` entries of a statement are held until its end, which settles whether a
    bank reference repeats (then those entries fall back to composite keys). A longer
    statement in a seekable stream is first counted by a quick pass over its references
    (`census`: a scan of the raw bytes, or lxml where the scan does not know), then
    streamed in constant memory; `buffer=None` holds whole statements.
    The entries and their keys are the same either way.

    Raises:
        FormatError: as `read_camt`; events already yielded are not a whole file.
    """
    start = stream.tell() if stream.seekable() else None
    count = 0
    current: _Statement | None = None
    for element in iter_elements(stream, origin, CAMT_TAGS | {"Ntry"}, free=False):
        parent = element.getparent()
        if _is_entry(str(element.tag)):
            if current is None or current.el is not parent:
                if parent is None or local(parent.tag) not in CAMT_TAGS:
                    continue  # an Ntry is always directly in its statement
                current = _Statement(parent, origin, count + 1, buffer,
                                     (stream, start) if start is not None else None)
            out = current.add_entry(element)
            _free_entry(element)
            if out:
                yield from out
            continue
        if parent is None or not local(parent.tag).startswith("BkToCstmr"):
            continue  # a same-named element deeper down is not a statement
        count += 1
        if current is None or current.el is not element:
            current = _Statement(element, origin, count, buffer, None)
        yield from current.finish()
        current = None
        _free_entry(element)
    if count == 0:
        raise FormatError(origin, "/Document", "no statement, report or notification "
                          "(Stmt, Rpt, Ntfctn) in the file")


def _is_entry(tag: str) -> bool:
    return tag.endswith("}Ntry") or tag == "Ntry"


def _free_entry(element: etree._Element) -> None:
    """Drop a converted element and the already-converted siblings before it."""
    element.clear()
    parent = element.getparent()
    tag = element.tag
    while parent is not None:
        previous = element.getprevious()
        if previous is None or previous.tag != tag:
            break  # keep the statement's header (Id, Acct, Bal) for the header
        parent.remove(previous)


def _census(stream: IO[bytes], origin: str, number: int) -> frozenset[str]:
    """The bank references that repeat in statement `number` (a second parse, bounded
    memory): what `scan_repeated_references` answers without parsing, where it can."""
    counts = Occurrences()
    repeated: set[str] = set()
    count = 0
    statement: etree._Element | None = None  # the parent of the entries being counted
    ref_tag = ""
    for element in iter_elements(stream, origin, CAMT_TAGS | {"Ntry"}, free=False):
        parent = element.getparent()
        if _is_entry(str(element.tag)):
            if count + 1 == number and parent is not None and (
                    parent is statement or local(parent.tag) in CAMT_TAGS):
                if parent is not statement:  # held: lxml hands back the same proxy
                    statement, ref_tag = parent, reference_tag(str(parent.tag))
                ref = entry_reference(element, ref_tag)
                if ref and counts.add(ref) == 2:
                    repeated.add(ref)
            _free_entry(element)
            continue
        if parent is None or not local(parent.tag).startswith("BkToCstmr"):
            continue
        count += 1
        if count == number:
            break
        _free_entry(element)
    return frozenset(repeated)


class _Statement:
    """One statement being read: its header, its entries' identity state, its buffer."""

    def __init__(self, element: etree._Element, origin: str, number: int,
                 buffer: int | None, rewind: tuple[IO[bytes], int] | None) -> None:
        self.el, self.origin, self.number = element, origin, number
        self.where = f"/{local(element.tag)}[{number}]"
        self.convert = Converter(str(element.tag), origin, self.where)
        self.buffer, self.rewind = buffer, rewind
        self.held: list[StatementEntry] = []
        self.count = 0
        self.started = False
        self.first_currency: Currency | None = None
        self.seen = Occurrences()  # composite keys: occurrence numbers of twins
        self.fallback = Occurrences()  # repeated bank references: their composite keys
        self.repeated: frozenset[str] | None = None  # known once streaming

    def add_entry(self, node: etree._Element) -> list[StatementEvent] | None:
        """Convert one entry as soon as the parser has it; the events that can go out.

        A plain method, not a generator: one generator per entry cost ~1 µs.
        """
        self.count += 1
        entry = self.convert.entry(node, self.count, self.seen)
        if self.first_currency is None:
            self.first_currency = entry.amount.currency
        if self.repeated is not None:
            return [self.settled(entry)]
        self.held.append(entry)
        if self.buffer is not None and len(self.held) > self.buffer and self.rewind:
            self.repeated = self.census()
            return list(self.release())
        return None

    def census(self) -> frozenset[str]:
        """The repeated references of this statement: from the raw bytes where they are
        plain (`camt_census`), else from a second parse."""
        stream, start = self.rewind or (None, 0)
        assert stream is not None
        here = stream.tell()
        try:
            stream.seek(start)
            found = scan_repeated_references(stream, self.number)
            if found is None:
                stream.seek(start)
                found = _census(stream, self.origin, self.number)
            return found
        finally:
            stream.seek(here)

    def settled(self, entry: StatementEntry) -> StatementEntry:
        assert self.repeated is not None
        if entry.key.kind == "bank_reference" and reference_of(entry) in self.repeated:
            return rekey_repeated(entry, self.fallback)
        return entry

    def release(self) -> Iterator[StatementEvent]:
        """Yield the start (once) and the held entries, their identity settled."""
        if self.repeated is None:
            self.repeated = repeated_references(self.held)
        if not self.started:
            self.started = True
            yield StatementStart(self.header())
        held, self.held = self.held, []
        for entry in held:
            yield self.settled(entry)

    def finish(self) -> Iterator[StatementEvent]:
        """The rest of the statement's events, ending with its StatementEnd."""
        yield from self.release()
        yield StatementEnd(self.header(), self.count)

    def header(self) -> Statement:
        """The statement without its entries: id, account, currency, every balance."""
        fail, c = self.fail, self.convert
        account = c.child(self.el, "Acct")
        if account is None:
            raise fail("/Acct", "the account (Acct) is missing")
        iban = c.text(account, "Id/IBAN")
        number = iban or next((c.text(account, p) for p in _OTHER_IDS if c.text(account, p)),
                              None)
        if not number:
            raise fail("/Acct/Id", "the account has neither an IBAN nor another id")
        created = c.text(self.el, "CreDtTm")
        balances = tuple(c.balance(b, n, created) for n, b in enumerate(c.all(self.el, "Bal"),
                                                                          1))
        cur = self.currency(c.text(account, "Ccy"), balances)
        statement_id = c.text(self.el, "Id") or ""
        if not statement_id:
            raise fail("/Id", "the statement id (Id) is missing")
        closing = _pick(balances, BalanceType.CLOSING_BOOKED)
        on = closing.as_of.date() if closing else c.date(created, "/CreDtTm")
        return Statement(id=statement_id, account=number, currency=cur,
                         opening=_pick(balances, BalanceType.OPENING_BOOKED,
                                       BalanceType.PREVIOUSLY_CLOSED_BOOKED),
                         closing=closing, entries=(),
                         source=Source(origin=self.origin, where=self.where), on=on,
                         iban=iban, balances=balances, created_at=self.created_at(created))

    def created_at(self, own: str | None) -> datetime | None:
        """Stmt/CreDtTm, else the message's GrpHdr/CreDtTm (camt.053 1.2.2)."""
        text = own
        message = self.el.getparent()
        if text is None and message is not None:
            header = self.convert.child(message, "GrpHdr")
            text = self.convert.text(header, "CreDtTm") if header is not None else None
        return self.convert.moment(text, "/CreDtTm") if text else None

    def fail(self, where: str, message: str) -> FormatError:
        return FormatError(self.origin, f"{self.where}{where}", message)

    def currency(self, declared: str | None, balances: tuple[Balance, ...]) -> Currency:
        code = declared or (balances[0].amount.currency.code if balances else None)
        if code is None and self.first_currency is not None:
            code = self.first_currency.code
        if code is None:
            raise self.fail("/Acct/Ccy", "no currency: neither the account nor any amount "
                            "names one")
        return self.convert.ccy(code, "/Acct/Ccy")


def _pick(balances: tuple[Balance, ...], *types: BalanceType) -> Balance | None:
    for wanted in types:
        for balance in balances:
            if balance.type is wanted:
                return balance
    return None
