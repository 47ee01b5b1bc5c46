"""Reconciliation (对账) as data: bank lines, open items, the matching rules' settings and results.

The engine that turns lines and items into a `MatchResult` is the pure package
`bankgate.recon` (`bankgate.recon.match`); this module holds only the values it exchanges, so the
store and services can persist and show them without importing the engine.

Amounts are signed integer minor units in the account's currency, seen from our account:
a credit (money in) is positive, a debit negative. An open item's amount is the effect we
expect on the account: a payment is negative, an expected receipt positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bankgate.domain.errors import InvalidField
from bankgate.domain.statements import EntryStatus, StatementEntry

__all__ = [
    "DEFAULT_RULES",
    "BankLine",
    "LineStatus",
    "Match",
    "MatchConfig",
    "MatchResult",
    "OpenItem",
    "OpenItemKind",
    "Rule",
    "Suggestion",
    "bank_line_from_entry",
]


class LineStatus(StrEnum):
    """Booked lines are matched; pending (intraday) ones are only shown until booked."""

    BOOKED = "booked"
    PENDING = "pending"


@dataclass(frozen=True, slots=True, kw_only=True)
class BankLine:
    """One statement line as the matcher sees it (from a `StatementEntry`)."""

    id: str
    account_id: str
    amount_minor: int  # signed: credit +, debit −
    currency: str  # ISO 4217 code
    booking_date: date
    value_date: date | None = None
    status: LineStatus = LineStatus.BOOKED
    end_to_end_id: str | None = None
    instruction_id: str | None = None
    bank_reference: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    remittance: str | None = None
    # The remittance's reference keys as stored at import (`recon_keys.remittance_keys`);
    # None: the matcher extracts them.
    remittance_keys: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.amount_minor == 0:
            raise InvalidField(f"bank line {self.id!r}: amount_minor must not be zero")

    @property
    def effective_date(self) -> date:
        """The value date when the bank gives one, else the booking date."""
        return self.value_date or self.booking_date


def bank_line_from_entry(entry: StatementEntry, *, line_id: str, account_id: str) -> BankLine:
    """The matcher's view of a statement entry (booked or pending; `info` entries are pending).

    Raises:
        InvalidField: the entry has neither a booking nor a value date, or a zero amount.
    """
    booking = entry.booking_date or entry.value_date
    if booking is None:
        raise InvalidField(f"entry {entry.key.value!r}: neither booking nor value date")
    return BankLine(
        id=line_id,
        account_id=account_id,
        amount_minor=entry.amount.to_minor(),
        currency=entry.amount.currency.code,
        booking_date=booking,
        value_date=entry.value_date,
        status=LineStatus.BOOKED if entry.status is EntryStatus.BOOKED else LineStatus.PENDING,
        end_to_end_id=entry.end_to_end_id,
        instruction_id=entry.instruction_id,
        bank_reference=entry.bank_reference or entry.account_servicer_reference,
        counterparty_name=entry.counterparty_name,
        counterparty_account=entry.counterparty_account,
        remittance=entry.remittance,
    )


class OpenItemKind(StrEnum):
    """What we expect to see on the bank statement."""

    PAYMENT = "payment"  # one of our payment orders, debit
    PAYMENT_BATCH = "payment_batch"  # a whole batch the bank books as one debit
    RECEIPT = "receipt"  # an expected receipt from the ERP (应收), credit
    CLAIM = "claim"  # an expense claim paid to an employee, debit
    TRANSFER_OUT = "transfer_out"  # internal transfer (资金调拨), the leg leaving
    TRANSFER_IN = "transfer_in"  # internal transfer, the leg arriving
    FEE = "fee"  # a bank fee we expect (手续费)
    RETURN = "return"  # a payment coming back (退汇), credit


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenItem:
    """Something we expect on an account and have not matched yet (or only partly)."""

    id: str
    kind: OpenItemKind
    account_id: str
    amount_minor: int  # signed: the expected effect on the account
    open_amount_minor: int  # what is still open (same sign, |open| <= |amount|)
    currency: str
    expected_date: date
    end_to_end_id: str | None = None
    instruction_id: str | None = None
    batch_id: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    references: tuple[str, ...] = ()  # invoice / order numbers (发票号, 订单号)
    # The keys of each reference as stored (`recon_keys.item_keys`); None: the matcher
    # computes them.
    reference_keys: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self) -> None:
        if self.amount_minor == 0 or self.open_amount_minor == 0:
            raise InvalidField(f"open item {self.id!r}: amounts must not be zero")
        if (self.amount_minor > 0) != (self.open_amount_minor > 0):
            raise InvalidField(f"open item {self.id!r}: open amount has the other sign")
        if abs(self.open_amount_minor) > abs(self.amount_minor):
            raise InvalidField(f"open item {self.id!r}: open amount exceeds the amount")
        if self.reference_keys is not None and len(self.reference_keys) != len(self.references):
            raise InvalidField(f"open item {self.id!r}: reference_keys must hold one tuple per "
                               f"reference ({len(self.references)})")


class Rule(StrEnum):
    """The matching rules, in the order `DEFAULT_RULES` applies them."""

    EXACT_ID = "exact_id"  # end-to-end or instruction id echoed by the bank
    BATCH = "batch"  # one debit = the sum of a batch's open items
    AMOUNT_ACCOUNT = "amount_account"  # same amount, date window, same counterparty account
    REFERENCE = "reference"  # an invoice/order number found in the remittance text
    MANY_TO_ONE = "many_to_one"  # several lines pay one item, or one line pays part of it
    FUZZY_NAME = "fuzzy_name"  # similar counterparty name, amount within the fee tolerance


DEFAULT_RULES: tuple[Rule, ...] = tuple(Rule)


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchConfig:
    """How the matcher decides. Confidences are integers 0–100."""

    auto_confirm_threshold: int = 90  # at or above: confirmed; below: manual queue
    date_window_days: int = 3  # |line date − expected date| allowed
    fee_tolerance_minor: int = 5_000  # a fee up to this is accepted (50.00 in CNY)
    fee_tolerance_per_mille: int = 0  # ... or up to this share of the amount, if larger
    fee_max_percent: int = 10  # but never more than this share of the amount
    name_similarity_cutoff: int = 85  # rapidfuzz score below which names do not count
    max_suggestions: int = 3  # ranked candidates kept per unmatched line
    max_group_size: int = 4  # most lines combined into one many-to-one match
    rules: tuple[Rule, ...] = DEFAULT_RULES

    def __post_init__(self) -> None:
        if not 1 <= self.auto_confirm_threshold <= 100:  # 0 would confirm every guess
            raise InvalidField("auto_confirm_threshold must be within 1..100")
        if not 0 <= self.name_similarity_cutoff <= 100:
            raise InvalidField("name_similarity_cutoff must be within 0..100")
        for name in ("date_window_days", "fee_tolerance_minor", "fee_tolerance_per_mille",
                     "fee_max_percent", "max_suggestions"):
            if getattr(self, name) < 0:
                raise InvalidField(f"{name} must not be negative")
        if self.max_group_size < 2:
            raise InvalidField("max_group_size must be at least 2")
        if len(set(self.rules)) != len(self.rules):
            raise InvalidField("rules must not repeat")

    def fee_tolerance(self, amount_minor: int) -> int:
        """The largest fee accepted on an item of this amount, in minor units."""
        size = abs(amount_minor)
        allowed = max(self.fee_tolerance_minor, size * self.fee_tolerance_per_mille // 1000)
        return min(allowed, size * self.fee_max_percent // 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """Lines and items that belong together, why, and how sure the matcher is.

    One line to one item, one line to a batch's items, or several lines to one item.
    `amounts_minor[i]` is what the match settles of `item_ids[i]`; `remaining_minor[i]` is what
    stays open of it afterwards (non-zero for a partial payment). `difference_minor` is the sum
    of the lines minus the sum settled: a fee deducted (negative) or zero.
    """

    line_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    amounts_minor: tuple[int, ...]
    rule: Rule
    confidence: int  # 0–100
    explanation: str  # "same amount, date within 1 day, name 94% similar"
    auto_confirmed: bool
    remaining_minor: tuple[int, ...] = ()
    difference_minor: int = 0

    def __post_init__(self) -> None:
        if not self.line_ids or not self.item_ids:
            raise InvalidField("a match needs at least one line and one item")
        if len(self.amounts_minor) != len(self.item_ids):
            raise InvalidField("a match needs one amount per item")
        if self.remaining_minor and len(self.remaining_minor) != len(self.item_ids):
            raise InvalidField("a match needs one remaining amount per item, or none")
        if not 0 <= self.confidence <= 100:
            raise InvalidField(f"confidence {self.confidence} is not within 0..100")


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    """An unmatched line and its best candidates below the threshold, best first."""

    line_id: str
    candidates: tuple[Match, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchResult:
    """What one matching run decided; no line and no item appears in two matches."""

    matches: tuple[Match, ...]
    suggestions: tuple[Suggestion, ...]
    unmatched_line_ids: tuple[str, ...]
    unmatched_item_ids: tuple[str, ...]  # items with nothing matched (partials are in matches)
    pending_line_ids: tuple[str, ...] = field(default=())  # intraday lines, not matched
