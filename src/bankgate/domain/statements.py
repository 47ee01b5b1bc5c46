"""Balances, statement entries and statements (对账单/交易明细), with where they came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from bankgate.domain.money import Currency, Money

__all__ = [
    "Balance",
    "BalanceType",
    "EntryDetail",
    "EntryKey",
    "EntryStatus",
    "Source",
    "Statement",
    "StatementEntry",
    "composite_entry_key",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a record came from: a file and the place in it, or a channel call."""

    origin: str  # "camt053/2024-02-01.xml", "hostapi:icbc/statement"
    where: str = ""  # a line number or XPath inside it


class BalanceType(StrEnum):
    """ISO 20022 balance types we keep (OPBD, CLBD, CLAV, ITBD, ITAV, FWAV)."""

    OPENING_BOOKED = "opening_booked"
    CLOSING_BOOKED = "closing_booked"
    CLOSING_AVAILABLE = "closing_available"
    INTERIM_BOOKED = "interim_booked"
    INTERIM_AVAILABLE = "interim_available"
    FORWARD_AVAILABLE = "forward_available"
    OPENING_AVAILABLE = "opening_available"
    PREVIOUSLY_CLOSED_BOOKED = "previously_closed_booked"
    OTHER = "other"  # a type code we do not model; the code is kept on the Balance


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    """An account's balance of one type at one moment; the amount is signed."""

    account: str  # our AccountId, or the account as the bank's file names it
    type: BalanceType
    amount: Money
    as_of: datetime
    source: Source
    code: str = ""  # the type code as the bank sent it (OPBD, CLAV, ...), when it sent one


class EntryStatus(StrEnum):
    """Booked entries count; pending ones are information (camt BOOK/PDNG/INFO)."""

    BOOKED = "booked"
    PENDING = "pending"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class EntryKey:
    """An entry's identity within its account, per bank dialect.

    `kind` says what the value is ("bank_reference" — a 流水号 or account servicer reference,
    "uetr", "tx_id", or "composite" — a documented hash). Re-importing an entry with the same
    key is a no-op; two entries that share a key are the same entry.
    """

    kind: str
    value: str


def composite_entry_key(
    *, booking_date: date, amount: Money, counterparty: str, remittance: str, occurrence: int
) -> EntryKey:
    """A key for banks that give no reference: the entry's fields plus its occurrence number.

    `occurrence` counts identical entries within one statement (1, 2, ...), so two genuinely
    identical payments on one day stay two entries, and re-importing the statement maps each
    to itself.
    """
    text = "|".join((booking_date.isoformat(), str(amount.amount), amount.currency.code,
                     counterparty, remittance, str(occurrence)))
    return EntryKey("composite", hashlib.sha256(text.encode()).hexdigest()[:32])


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDetail:
    """One transaction inside an entry (a batch booking has several): camt TxDtls."""

    amount: Money | None = None  # signed like its entry; None when the bank gives none
    end_to_end_id: str | None = None
    instruction_id: str | None = None
    transaction_id: str | None = None
    uetr: str | None = None
    account_servicer_reference: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    remittance: str | None = None  # unstructured text, joined
    structured_reference: str | None = None  # creditor reference (RF..., ESR/QRR)
    return_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementEntry:
    """One line of a statement: signed amount (credit +, debit −), dates and references."""

    key: EntryKey
    amount: Money
    status: EntryStatus
    booking_date: date | None
    value_date: date | None
    bank_reference: str | None = None
    end_to_end_id: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    remittance: str | None = None
    source: Source
    raw: bytes = field(default=b"", repr=False)
    account_servicer_reference: str | None = None
    instruction_id: str | None = None
    is_reversal: bool = False
    bank_transaction_code: str | None = None
    transactions: tuple[EntryDetail, ...] = ()

    @property
    def is_booked(self) -> bool:
        """True when the entry moved the booked balance."""
        return self.status is EntryStatus.BOOKED


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """An account's entries between two balances (end of day, or an intraday report)."""

    id: str
    account: str
    currency: Currency
    opening: Balance | None
    closing: Balance | None
    entries: tuple[StatementEntry, ...]
    source: Source
    on: date | None = None
    raw: bytes = field(default=b"", repr=False)
    iban: str | None = None  # the account's IBAN when the bank names it so
    balances: tuple[Balance, ...] = ()  # every balance the bank sent, of every type
    created_at: datetime | None = None  # when the bank wrote it (camt Stmt/CreDtTm), if said
