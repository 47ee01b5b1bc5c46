"""`match()`: the rules in the configured order over lines and items, then the manual queue."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from bankgate.domain.errors import InvalidField
from bankgate.domain.recon import (
    BankLine,
    Match,
    MatchConfig,
    MatchResult,
    OpenItem,
    Rule,
    Suggestion,
)
from bankgate.recon.columns import ItemColumns, LineColumns, item_columns, line_columns
from bankgate.recon.rules_ids import amount_account, batch, exact_id
from bankgate.recon.rules_names import fuzzy_name
from bankgate.recon.rules_refs import many_to_one, reference
from bankgate.recon.state import Found, State

__all__ = ["RULES", "match", "match_columns", "suggestions_of", "to_result"]

RULES: Mapping[Rule, Callable[[State], None]] = {
    Rule.EXACT_ID: exact_id,
    Rule.BATCH: batch,
    Rule.AMOUNT_ACCOUNT: amount_account,
    Rule.REFERENCE: reference,
    Rule.MANY_TO_ONE: many_to_one,
    Rule.FUZZY_NAME: fuzzy_name,
}


def match(lines: Sequence[BankLine], items: Sequence[OpenItem],
          config: MatchConfig | None = None) -> MatchResult:
    """Match bank lines to open items; each line and each item ends in at most one match.

    Raises:
        InvalidField: two lines or two items share an id.
    """
    _unique("line", [x.id for x in lines])
    _unique("item", [x.id for x in items])
    columns, expected = line_columns(lines), item_columns(items)
    return to_result(match_columns(columns, expected, config or MatchConfig()))


def _unique(what: str, ids: list[str]) -> None:
    if len(set(ids)) != len(ids):
        twice = next(x for x, count in Counter(ids).items() if count > 1)
        raise InvalidField(f"{what} id {twice!r} appears twice")


def match_columns(lines: LineColumns, items: ItemColumns, config: MatchConfig) -> State:
    """The bulk path: run the configured rules over columns; the state holds the outcome."""
    st = State(lines, items, config)
    with _collector_paused():
        for rule in config.rules:
            RULES[rule](st)
    return st


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the run, and restore it after.

    A run allocates millions of small tuples that all live until it ends and form no cycles;
    the collector would rescan the growing heap again and again for nothing: on 1M × 1M it
    almost tripled the run's CPU time (docs/benchmarks.md). Process-wide, so other threads'
    cycles wait for the few seconds of the run.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def suggestions_of(st: State) -> dict[int, list[Found]]:
    """For each line still free: its best candidates whose lines and items are all still free."""
    out: dict[int, list[Found]] = {}
    for n, candidates in st.proposals.items():
        if not st.line_free[n]:
            continue
        seen: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
        ranked = []
        for found in sorted(candidates, key=lambda f: -f.confidence):
            shape = (found.lines, found.items)
            if shape not in seen and st.is_free(found):
                seen.add(shape)
                ranked.append(found)
        if ranked:
            out[n] = ranked[: st.config.max_suggestions]
    return out


def to_result(st: State) -> MatchResult:
    """The state as a `MatchResult` of domain values, by id."""
    with _collector_paused():  # a million Match values, none in a cycle
        return _to_result(st)


def _to_result(st: State) -> MatchResult:
    line_ids, item_ids = st.lines.id, st.items.id
    matches = tuple(_as_match(st, f, left, confirmed=True)
                    for f, left in st.matches())
    queue = suggestions_of(st)
    suggestions = tuple(
        Suggestion(line_id=line_ids[n],
                   candidates=tuple(_as_match(st, f, None, confirmed=False) for f in found))
        for n, found in sorted(queue.items()))
    booked = st.lines.booked
    return MatchResult(
        matches=matches,
        suggestions=suggestions,
        unmatched_line_ids=tuple(x for n, x in enumerate(line_ids)
                                 if st.line_free[n] and booked[n]),
        unmatched_item_ids=tuple(x for i, x in enumerate(item_ids) if st.item_free[i]),
        pending_line_ids=tuple(x for n, x in enumerate(line_ids) if not booked[n]),
    )


def _as_match(st: State, f: Found, left: tuple[int, ...] | None, *, confirmed: bool) -> Match:
    if left is None:
        left = tuple(st.open[i] - a for i, a in zip(f.items, f.amounts, strict=True))
    return Match(
        line_ids=tuple([st.lines.id[n] for n in f.lines]),
        item_ids=tuple([st.items.id[i] for i in f.items]),
        amounts_minor=f.amounts,
        rule=f.rule,
        confidence=f.confidence,
        explanation=f.explanation,
        auto_confirmed=confirmed,
        remaining_minor=left,
        difference_minor=f.difference,
    )
