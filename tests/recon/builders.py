"""Builders for the matcher's tests: a bank line, an open item, and the no-double-match check."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from bankgate.domain.recon import BankLine, MatchResult, OpenItem, OpenItemKind

DAY = date(2026, 11, 23)


def a_line(id: str = "L1", amount: int = -100_000, **overrides: Any) -> BankLine:
    """A booked CNY line on acc-1, dated DAY, with nothing else unless told."""
    values: dict[str, Any] = {"id": id, "account_id": "acc-1", "amount_minor": amount,
                              "currency": "CNY", "booking_date": DAY}
    values.update(overrides)
    return BankLine(**values)


def an_item(id: str = "I1", amount: int = -100_000, **overrides: Any) -> OpenItem:
    """A wholly open CNY payment on acc-1, expected on DAY, unless told otherwise."""
    kind = OpenItemKind.PAYMENT if amount < 0 else OpenItemKind.RECEIPT
    values: dict[str, Any] = {"id": id, "kind": kind, "account_id": "acc-1",
                              "amount_minor": amount, "open_amount_minor": amount,
                              "currency": "CNY", "expected_date": DAY}
    values.update(overrides)
    return OpenItem(**values)


def assert_each_once(result: MatchResult, lines: int | None = None,
                     items: int | None = None) -> None:
    """No line and no item is in two matches, nor both matched and listed as unmatched."""
    line_uses = Counter(x for m in result.matches for x in m.line_ids)
    item_uses = Counter(x for m in result.matches for x in m.item_ids)
    assert not [x for x, c in line_uses.items() if c > 1], "a line matched twice"
    assert not [x for x, c in item_uses.items() if c > 1], "an item matched twice"
    assert not set(line_uses) & set(result.unmatched_line_ids)
    assert not set(item_uses) & set(result.unmatched_item_ids)
    assert not set(line_uses) & set(result.pending_line_ids)
    if lines is not None:
        assert (len(line_uses) + len(result.unmatched_line_ids) + len(result.pending_line_ids)
                == lines)
    if items is not None:
        assert len(item_uses) + len(result.unmatched_item_ids) == items
