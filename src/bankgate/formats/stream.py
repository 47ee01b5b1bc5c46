"""Statements as a stream of events: a header, its entries one by one, then its end.

A statement with a million entries never has to be held whole (L-06): a reader yields
`StatementStart` (account, currency, the balances known so far), every `StatementEntry` as it
is read, then `StatementEnd` (every balance and the entry count). `collect` turns the stream
back into whole `Statement`s for callers that want them; `StatementCheck` runs the checks of
`domain.check_statement` on the stream, entry by entry, with the same findings.

Entry identity needs a count of what came before in the statement (an occurrence number for
twins, whether a bank reference repeats). `Occurrences` counts exactly in a dict up to a
bound, then in a compact table of 96-bit fingerprints (12 bytes a slot: ~24 MB for a million
distinct entries instead of ~300 MB of tuples); a fingerprint collision, the only way the two
could differ, has a chance below 10^-17 for a million entries.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

from bankgate.domain import Issue, Money, Statement, StatementEntry
from bankgate.formats.speedups import fingerprint_counts

__all__ = ["Occurrences", "StatementCheck", "StatementEnd", "StatementEvent", "StatementStart",
           "collect", "events_of"]


@dataclass(frozen=True, slots=True)
class StatementStart:
    """A statement's header, before its entries (`header.entries` is empty)."""

    header: Statement


@dataclass(frozen=True, slots=True)
class StatementEnd:
    """The end of a statement: its header with every balance, and how many entries it had."""

    header: Statement
    entries: int


StatementEvent = StatementStart | StatementEntry | StatementEnd


def collect(events: Iterable[StatementEvent]) -> Iterator[Statement]:
    """Whole statements from a stream of events (memory: the largest statement)."""
    entries: list[StatementEntry] = []
    for event in events:
        if isinstance(event, StatementEntry):
            entries.append(event)
        elif isinstance(event, StatementEnd):
            yield replace(event.header, entries=tuple(entries))
            entries = []


def events_of(statements: Iterable[Statement]) -> Iterator[StatementEvent]:
    """The events of statements read whole (MT940, CSV): start, entries, end."""
    for statement in statements:
        header = replace(statement, entries=())
        yield StatementStart(header)
        yield from statement.entries
        yield StatementEnd(header, len(statement.entries))


class StatementCheck:
    """`check_statement` over a stream: feed every entry, then `finish` with the header."""

    def __init__(self, header: Statement) -> None:
        self._currency = header.currency
        self._issues: list[Issue] = []
        self._booked = Decimal(0)

    def entry(self, entry: StatementEntry) -> None:
        """Take one entry into the checks."""
        if entry.amount.currency != self._currency:
            self._issues.append(Issue(entry.source, f"entry {entry.key.value} is in "
                                      f"{entry.amount.currency.code}, the statement in "
                                      f"{self._currency.code}"))
        elif entry.is_booked:
            self._booked += entry.amount.amount

    def finish(self, header: Statement) -> list[Issue]:
        """The findings, in the order and words of `domain.check_statement`."""
        issues = list(self._issues)
        for balance in (header.opening, header.closing):
            if balance is not None and balance.amount.currency != header.currency:
                issues.append(Issue(balance.source, f"the {balance.type.value} balance is in "
                                    f"{balance.amount.currency.code}, the account in "
                                    f"{header.currency.code}"))
        if header.opening is None or header.closing is None or issues:
            return issues
        booked = Money(self._booked.quantize(header.currency.quantum), header.currency)
        expected = header.opening.amount + booked
        if expected != header.closing.amount:
            issues.append(Issue(header.source,
                                f"opening {header.opening.amount} + booked entries {booked} = "
                                f"{expected}, but the closing balance is "
                                f"{header.closing.amount}"))
        return issues


_EXACT_UP_TO: Final = 20_000
_FIRST_SIZE: Final = 1 << 16


class Occurrences:
    """How many times each key was seen so far: `add(key)` returns 1 the first time, then 2...

    Exact (a dict) for the first `exact` distinct keys, then 96-bit fingerprints (blake2b
    of the key's repr) in two flat arrays of 12 bytes a slot (open addressing, at most 3/4
    full), probed in C when the C half is built and `compiled`. Keys are tuples of values
    with a stable repr.
    """

    def __init__(self, exact: int = _EXACT_UP_TO, *, compiled: bool = True) -> None:
        self._exact: dict[object, int] | None = {}
        self._limit = exact
        self._compiled = compiled
        self._c: Any = None  # the C table once spilled (speedups.fingerprint_counts)
        self._hi = array("Q")
        self._lo = array("I")
        self._repeats: dict[tuple[int, int], int] = {}
        self._used = 0

    def add(self, key: object) -> int:
        """Count one more `key`; its occurrence number."""
        if self._exact is not None:
            n = self._exact.get(key, 0) + 1
            self._exact[key] = n
            if len(self._exact) > self._limit:
                self._spill(self._exact)
            return n
        if self._c is not None:
            count: int = self._c.add(_digest(key))
            return count
        return self._add_fingerprint(_fingerprint(key), 1)

    def _spill(self, exact: dict[object, int]) -> None:
        self._exact = None
        self._c = fingerprint_counts() if self._compiled else None
        if self._c is not None:
            for key, n in exact.items():
                self._c.add(_digest(key), n)
            return
        self._resize(_FIRST_SIZE)
        for key, n in exact.items():
            self._add_fingerprint(_fingerprint(key), n)

    def _resize(self, size: int) -> None:
        old_hi, old_lo = self._hi, self._lo  # walked in place: no list of a million tuples
        self._hi = array("Q", [0]) * size
        self._lo = array("I", [0]) * size
        self._used = 0
        for h, lo in zip(old_hi, old_lo, strict=True):
            if h:
                self._slot(h, lo)

    def _slot(self, hi: int, lo: int) -> bool:
        """Put a fingerprint in the table; False when it was there already."""
        mask = len(self._hi) - 1
        i = hi & mask
        table_hi, table_lo = self._hi, self._lo
        while True:
            held = table_hi[i]
            if held == 0:
                table_hi[i], table_lo[i] = hi, lo
                self._used += 1
                return True
            if held == hi and table_lo[i] == lo:
                return False
            i = (i + 1) & mask

    def _add_fingerprint(self, print_: tuple[int, int], n: int) -> int:
        if (self._used + 1) * 4 > len(self._hi) * 3:
            self._resize(len(self._hi) * 2)
        if self._slot(*print_):
            if n > 1:
                self._repeats[print_] = n
            return n
        count = self._repeats.get(print_, 1) + n
        self._repeats[print_] = count
        return count


def _digest(key: object) -> bytes:
    return hashlib.blake2b(repr(key).encode(), digest_size=12).digest()


def _fingerprint(key: object) -> tuple[int, int]:
    digest = _digest(key)
    return int.from_bytes(digest[:8], "little") | 1, int.from_bytes(digest[8:], "little")
