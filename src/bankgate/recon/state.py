"""The matcher's working state: what is still free, what was found, what waits for a person."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import compress, repeat
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bankgate.domain.money import CURRENCIES
from bankgate.domain.recon import MatchConfig, Rule
from bankgate.recon.arrays import Arrays, Ints, arrays_of
from bankgate.recon.columns import ItemColumns, LineColumns

__all__ = ["Found", "Naming", "State", "days_text", "money_text"]


class Found(NamedTuple):
    """A candidate match by row numbers (a tuple: a million of them must be cheap)."""

    lines: tuple[int, ...]
    items: tuple[int, ...]
    amounts: tuple[int, ...]  # settled of each item
    rule: Rule
    confidence: int
    explanation: str
    difference: int = 0  # sum of lines − sum settled (a fee deducted is negative)


class Naming(NamedTuple):
    """Which free items the free lines' remittances name, one row per (line, item): by line,
    then in the order the line's keys name them; `ref` indexes `spellings`, the item's own
    spelling of the reference."""

    line: Ints
    item: Ints
    ref: Ints
    spellings: list[str]


class State:
    """Free lines and items; accepted matches; proposals below the threshold, per line."""

    __slots__ = ("_arrays", "config", "item_free", "items", "line_free", "lines", "many",
                 "many_left", "named", "one", "open", "open_array", "proposals", "threshold")

    def __init__(self, lines: LineColumns, items: ItemColumns, config: MatchConfig) -> None:
        self.lines = lines
        self.items = items
        self.config = config
        self.threshold = config.auto_confirm_threshold
        self.line_free = bytearray(map(bool, lines.booked))
        self.item_free = bytearray(b"\x01") * len(items)
        self.open = list(items.open_amount)
        # The same amounts as an array, kept equal to `open` by every take, for the
        # vectorised passes (five rules read it; a fresh array each time cost ~0.15 s at 1M).
        self.open_array: Ints = np.fromiter(self.open, np.int64, len(self.open))
        # One-to-one matches (nearly all of them) as columns: line, item, settled, rule,
        # confidence, explanation, difference, left open; a tuple each would cost more
        # memory than the input. Matches of several lines or items as `Found`s.
        # An explanation None is the bulk exact-id text, formatted when read (`explanation`):
        # 423k stored strings would be ~40 MB at 1M.
        self.one: tuple[list[int], list[int], list[int], list[Rule], list[int],
                        list[str | None], list[int], list[int]] = ([], [], [], [], [], [], [],
                                                                   [])
        self.many: list[Found] = []
        self.many_left: list[tuple[int, ...]] = []
        self.proposals: dict[int, list[Found]] = {}
        # Shared by the rules of one run: which items each line's remittance names
        # (rules_refs._naming).
        self.named: Naming | None = None
        self._arrays: Arrays | None = None

    def arrays(self) -> Arrays:
        """The columns' amounts, dates and ledger codes as arrays (built on first use)."""
        if self._arrays is None:
            self._arrays = arrays_of(self.lines, self.items)
        return self._arrays

    def line_free_mask(self) -> npt.NDArray[np.bool_]:
        """`line_free` as a boolean array sharing its memory (writes show in both)."""
        return np.frombuffer(self.line_free, dtype=np.bool_)

    def item_free_mask(self) -> npt.NDArray[np.bool_]:
        """`item_free` as a boolean array sharing its memory."""
        return np.frombuffer(self.item_free, dtype=np.bool_)

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
        """`take` for one line and one item, the bulk of every run (no `Found` built)."""
        self.line_free[n] = 0
        self.item_free[i] = 0
        left = self.open[i] - settled
        self.open[i] = left
        self.open_array[i] = left
        lines, items, amounts, rules, confidences, texts, differences, lefts = self.one
        lines.append(n)
        items.append(i)
        amounts.append(settled)
        rules.append(rule)
        confidences.append(confidence)
        texts.append(explanation)
        differences.append(difference)
        lefts.append(left)

    def take_all(self, lines: Ints, items: Ints, rule: Rule, confidences: list[int],
                 texts: list[str | None], differences: list[int]) -> None:
        """Take one-to-one matches in bulk (`lines[k]` with `items[k]`), each settling its
        item's whole open amount; the rule has checked that they are free."""
        self.line_free_mask()[lines] = False
        self.item_free_mask()[items] = False
        rows, taken = lines.tolist(), items.tolist()
        open_ = self.open
        settled = self.open_array[items].tolist()
        self.open_array[items] = 0
        deque(map(open_.__setitem__, taken, repeat(0)), maxlen=0)  # open_[i] = 0, in C
        columns = self.one
        columns[0].extend(rows)
        columns[1].extend(taken)
        columns[2].extend(settled)
        columns[3].extend([rule] * len(rows))
        columns[4].extend(confidences)
        columns[5].extend(texts)
        columns[6].extend(differences)
        columns[7].extend([0] * len(rows))

    def matches(self) -> Iterator[tuple[Found, tuple[int, ...]]]:
        """Every accepted match with what stays open of each of its items."""
        for n, i, settled, rule, confidence, text, difference, left in zip(*self.one,
                                                                          strict=True):
            yield Found((n,), (i,), (settled,), rule, confidence,
                        self.explanation(n) if text is None else text, difference), (left,)
        yield from zip(self.many, self.many_left, strict=True)

    def explanation(self, n: int) -> str:
        """The text of a bulk exact-id match of line `n` (stored as None)."""
        return f"end-to-end id {self.lines.end_to_end_id[n]} matches, same amount"

    def pairs(self) -> set[tuple[int, int]]:
        """Every (line, item) that an accepted match joins."""
        lines, items = self.one[0], self.one[1]
        out = set(zip(lines, items, strict=True))
        out.update((n, i) for f in self.many for n in f.lines for i in f.items)
        return out

    def free_rows(self) -> list[int]:
        """The rows of the lines still free, so a rule need not walk all of them."""
        return list(compress(range(len(self.line_free)), self.line_free))

    def free_items(self) -> list[int]:
        """The rows of the items still free (late rules see a fraction of them)."""
        return list(compress(range(len(self.item_free)), self.item_free))

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
            self.open_array[i] = self.open[i]
            left.append(self.open[i])
        self.many.append(found)
        self.many_left.append(tuple(left))

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
