"""How far reconciliation got: match rate, the exceptions and how old they are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bankgate.domain import Money, currency
from bankgate.services._tx import UowFactory
from bankgate.services.ledger import BooksVsBank, books_vs_bank

__all__ = ["AGING_BUCKETS", "QueuedSuggestion", "ReconException", "ReconSummary", "aging_bucket",
           "confirmed_matches", "manual_queue", "recon_summary", "summary_document"]

AGING_BUCKETS = ("0-1 d", "2-7 d", "8-30 d", "> 30 d")


def aging_bucket(age_days: int) -> str:
    """The aging bucket of an exception `age_days` old."""
    if age_days <= 1:
        return AGING_BUCKETS[0]
    if age_days <= 7:
        return AGING_BUCKETS[1]
    return AGING_BUCKETS[2] if age_days <= 30 else AGING_BUCKETS[3]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconException:
    """Something reconciliation could not settle: an entry, an item past due, a sync problem."""

    kind: str  # "entry" (unmatched bank line), "item" (expected, not seen), "sync"
    ref: str  # entry id, item id, or the sync problem's kind
    account_id: str
    on: date
    age_days: int
    amount: str | None  # signed decimal text, in `currency`
    currency: str | None
    text: str
    suggestions: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconSummary:
    """Match rate over booked entries in scope, exceptions oldest first, books against bank."""

    account_id: str | None
    on: date | None
    lines: int
    matched: int
    exceptions: tuple[ReconException, ...]
    books: tuple[BooksVsBank, ...] = field(default=())

    @property
    def rate_pct(self) -> Decimal | None:
        """Matched entries as a percentage, one decimal (None when there is nothing to match)."""
        if not self.lines:
            return None
        return (Decimal(100 * self.matched) / self.lines).quantize(Decimal("0.1"))

    @property
    def aging(self) -> dict[str, int]:
        """Exceptions per aging bucket, every bucket present."""
        counts = Counter(aging_bucket(e.age_days) for e in self.exceptions)
        return {bucket: counts.get(bucket, 0) for bucket in AGING_BUCKETS}


def recon_summary(*, uow: UowFactory, now: Callable[[], datetime], zone: ZoneInfo,
                  account_id: str | None = None, on: date | None = None) -> ReconSummary:
    """The summary of one account (or all) and one booking day (or all)."""
    today = now().astimezone(zone).date()
    with uow() as unit:
        lines, matched = unit.recon.line_counts(account_id, on)
        suggested = Counter(n for m in unit.recon.matches(account_id=account_id,
                                                          state="suggested")
                            for n in m["line_ids"])
        entries = [_entry(r, today, suggested[r["id"]])
                   for r in unit.recon.free_lines(account_id, on)]
        items = [_item(r, today) for r in unit.recon.open_items(account_id)
                 if r["expected_date"] < today and (on is None or r["expected_date"] <= on)]
        sync = [ReconException(kind="sync", ref=x.kind, account_id=x.account_id, on=x.on,
                               age_days=(today - x.on).days, amount=None, currency=None,
                               text=x.message)
                for x in unit.sync.exceptions(account_id) if on is None or x.on == on]
        books = tuple(b for b in books_vs_bank(unit)
                      if account_id is None or b.account_id == account_id)
    found = sorted((*entries, *items, *sync), key=lambda e: (-e.age_days, e.account_id, e.ref))
    return ReconSummary(account_id=account_id, on=on, lines=lines, matched=matched,
                        exceptions=tuple(found), books=books)


def _money(minor: int, code: str) -> str:
    return f"{Money.from_minor(minor, currency(code)).amount:f}"


def _entry(row: dict[str, Any], today: date, suggestions: int) -> ReconException:
    day = row["booking_date"] or row["value_date"] or today
    who = row["counterparty_name"] or "?"
    return ReconException(kind="entry", ref=str(row["id"]), account_id=row["account_id"],
                          on=day, age_days=(today - day).days,
                          amount=_money(row["amount_minor"], row["currency"]),
                          currency=row["currency"], suggestions=suggestions,
                          text=f"unmatched bank entry: {who} {row['remittance'] or ''}".strip())


def _item(row: dict[str, Any], today: date) -> ReconException:
    who = row["counterparty_name"] or "?"
    return ReconException(kind="item", ref=row["id"], account_id=row["account_id"],
                          on=row["expected_date"], age_days=(today - row["expected_date"]).days,
                          amount=_money(row["open_minor"], row["currency"]),
                          currency=row["currency"],
                          text=f"expected {row['kind']} not on the statement: {who}")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedSuggestion:
    """One candidate of the manual queue (待人工确认), ranked per entry."""

    match_id: str
    account_id: str
    entry_ids: tuple[int, ...]
    item_ids: tuple[str, ...]
    rank: int
    confidence: int
    rule: str
    explanation: str


def manual_queue(*, uow: UowFactory, account_id: str | None = None) -> list[QueuedSuggestion]:
    """The suggestions waiting for a person, per entry best first."""
    with uow() as unit:
        rows = unit.recon.matches(account_id=account_id, state="suggested")
    found = [QueuedSuggestion(match_id=r["id"], account_id=r["account_id"],
                              entry_ids=tuple(r["line_ids"]),
                              item_ids=tuple(i for i, _ in r["allocations"]), rank=r["rank"],
                              confidence=r["confidence"], rule=r["rule"],
                              explanation=r["explanation"]) for r in rows]
    return sorted(found, key=lambda s: (s.account_id, s.entry_ids, s.rank))


def confirmed_matches(*, uow: UowFactory, account_id: str | None = None) -> list[dict[str, Any]]:
    """Confirmed matches (id, account, rule, confidence, explanation, entries, items)."""
    with uow() as unit:
        rows = unit.recon.matches(account_id=account_id, state="confirmed")
    return [{"id": r["id"], "account_id": r["account_id"], "rule": r["rule"],
             "confidence": r["confidence"], "explanation": r["explanation"],
             "entries": r["line_ids"], "items": [i for i, _ in r["allocations"]],
             "decided_by": r["decided_by"]} for r in rows]


def summary_document(summary: ReconSummary) -> dict[str, Any]:
    """The summary as JSON-ready data (also the API's answer)."""
    rate = summary.rate_pct
    return {"account_id": summary.account_id, "date": str(summary.on) if summary.on else None,
            "entries": summary.lines, "matched": summary.matched,
            "match_rate_pct": f"{rate}" if rate is not None else None,
            "aging": summary.aging,
            "exceptions": [{**asdict(e), "on": str(e.on)} for e in summary.exceptions],
            "books": [{"account_id": b.account_id, "currency": b.currency,
                       "bank": f"{b.bank:f}", "ledger": f"{b.ledger:f}",
                       "difference": f"{b.difference:f}",
                       "unmatched_entries": b.unmatched_entries} for b in summary.books]}
