"""The matcher's working state: what is still free, what was found, what waits for a person."""

from __future__ import annotations

from typing import NamedTuple

from bankgate.domain.money import CURRENCIES
from bankgate.domain.recon import MatchConfig, Rule
from bankgate.recon.columns import ItemColumns, LineColumns

__all__ = ["Found", "State", "days_text", "money_text"]


class Found(NamedTuple):
    """A candidate match by row numbers (a tuple: a million of them must be cheap)."""

    lines: tuple[int, ...]
    items: tuple[int, ...]
    amounts: tuple[int, ...]  # settled of each item
    rule: Rule
    confidence: int
    explanation: str
    difference: int = 0  # sum of lines − sum settled (a fee deducted is negative)


_new = tuple.__new__  # builds a Found without NamedTuple's slower generated __new__


class State:
    """Free lines and items; accepted matches; proposals below the threshold, per line."""

    __slots__ = ("config", "found", "item_free", "items", "line_free", "lines", "named", "names",
                 "open", "proposals", "remaining", "threshold")

    def __init__(self, lines: LineColumns, items: ItemColumns, config: MatchConfig) -> None:
        self.lines = lines
        self.items = items
        self.config = config
        self.threshold = config.auto_confirm_threshold
        self.line_free = bytearray(1 if booked else 0 for booked in lines.booked)
        self.item_free = bytearray(b"\x01") * len(items)
        self.open = list(items.open_amount)
        self.found: list[Found] = []
        self.remaining: list[tuple[int, ...]] = []
        self.proposals: dict[int, list[Found]] = {}
        # Caches shared by the rules of one run: a name's compared forms, and which items each
        # line's remittance names (rules_refs._naming).
        self.names: dict[str, tuple[str, str, str]] = {}
        self.named: dict[int, dict[int, str]] | None = None

    def is_free(self, found: Found) -> bool:
        """True when none of the candidate's lines and items is taken yet."""
        if len(found.lines) == 1 and len(found.items) == 1:
            return bool(self.line_free[found.lines[0]] and self.item_free[found.items[0]])
        return all(self.line_free[n] for n in found.lines) and all(
            self.item_free[i] for i in found.items)

    def offer(self, found: Found) -> bool:
        """Take the candidate if sure enough and still free, else keep it as a proposal."""
        if found.confidence >= self.threshold and self.is_free(found):
            self.take(found)
            return True
        self.propose(found)
        return False

    def offer_best(self, candidates: list[Found]) -> None:
        """Offer the best of a line's candidates; a tie for first place (within 5) goes to
        the manual queue, capped at 70, rather than to a guess."""
        if not candidates:
            return
        candidates.sort(key=lambda f: -f.confidence)
        best = candidates[0]
        if len(candidates) > 1 and candidates[1].confidence >= best.confidence - 5:
            for c in candidates[: self.config.max_suggestions]:
                self.propose(c._replace(confidence=min(c.confidence, self.threshold - 1, 70),
                                        explanation=c.explanation + "; another candidate as good"))
            return
        self.offer(best)
        for c in candidates[1:]:
            self.propose(c)

    def propose(self, found: Found) -> None:
        """Keep a candidate for the manual queue of each of its lines."""
        for n in found.lines:
            self.proposals.setdefault(n, []).append(found)

    def take_one(self, n: int, i: int, settled: int, rule: Rule, confidence: int,
                 explanation: str, difference: int = 0) -> None:
        """`take` for one line and one item, the bulk of every run (no `Found` built first)."""
        self.line_free[n] = 0
        self.item_free[i] = 0
        left = self.open[i] - settled
        self.open[i] = left
        self.found.append(_new(Found, ((n,), (i,), (settled,), rule, confidence, explanation,
                                       difference)))
        self.remaining.append((left,))

    def free_rows(self) -> list[int]:
        """The rows of the lines still free, so a rule need not walk all of them."""
        return [n for n, free in enumerate(self.line_free) if free]

    def take(self, found: Found) -> None:
        """Accept a match: its lines and items are taken; what stays open is recorded."""
        if len(found.lines) == 1 and len(found.items) == 1:
            self.take_one(found.lines[0], found.items[0], found.amounts[0], found.rule,
                          found.confidence, found.explanation, found.difference)
            return
        for n in found.lines:
            self.line_free[n] = 0
        left = []
        for i, settled in zip(found.items, found.amounts, strict=True):
            self.item_free[i] = 0
            self.open[i] -= settled
            left.append(self.open[i])
        self.found.append(found)
        self.remaining.append(tuple(left))

    def within(self, line: int, item: int) -> int | None:
        """Days between the line's date and the item's expected date, if within the window."""
        days = abs(self.lines.day[line] - self.items.day[item])
        return days if days <= self.config.date_window_days else None

    def money(self, minor: int, line: int) -> str:
        """An amount in the line's currency, for an explanation."""
        return money_text(minor, self.lines.currency[line])


def money_text(minor: int, code: str) -> str:
    """Minor units as a plain decimal in the currency's exponent: 1500 CNY → "15.00"."""
    known = CURRENCIES.get(code)
    exponent = known.minor_units if known is not None else 2
    whole, part = divmod(abs(minor), 10**exponent)
    return f"{whole:,}.{part:0{exponent}d}" if exponent else f"{whole:,}"


def days_text(days: int) -> str:
    """ "same day", "date within 1 day", "date within 3 days"."""
    if days == 0:
        return "same day"
    return f"date within {days} day" + ("" if days == 1 else "s")
