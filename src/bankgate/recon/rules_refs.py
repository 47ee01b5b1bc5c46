"""The rules that read references in the remittance: one line to one item, several to one."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import compress

import numpy as np
import numpy.typing as npt

from bankgate.domain.recon import Rule
from bankgate.recon.arrays import Ints, fee_tolerances
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import reference_keys, remittance_keys

__all__ = ["many_to_one", "reference"]

_HAS_DIGIT = re.compile(r"\d").search  # "货款", "往来款": most remittances name no number
Named = dict[int, dict[int, str]]  # line → {item it names: the item's spelling of the reference}


def _reference_index(st: State) -> dict[str, list[tuple[int, str]]]:
    """Each reference key → the free items carrying it, with their spelling of it.

    The keys are the ones stored with each item (`ItemColumns.reference_keys`), computed here
    only for items stored without them.
    """
    index: dict[str, list[tuple[int, str]]] = {}
    references, stored = st.items.references, st.items.reference_keys
    for i in _free_with(st.item_free_mask(), references):
        kept = None if stored is None else stored[i]
        for ref, keys in zip(references[i], kept if kept is not None else
                             map(reference_keys, references[i]), strict=True):
            for key in keys:
                hits = index.setdefault(key, [])
                if not hits or hits[-1][0] != i:
                    hits.append((i, ref))
    return index


def _free_with(free: npt.NDArray[np.bool_], column: Sequence[object]) -> list[int]:
    """The free rows whose value in `column` is not empty, in order."""
    filled = np.fromiter(map(bool, column), np.bool_, len(column))
    return np.flatnonzero(free & filled).tolist()


def _naming(st: State) -> Named:
    """Free lines and the free items on their account that their remittance names.

    Computed once per run (by the first of the two rules that needs it); later readers
    re-check that lines and items are still free.
    """
    if st.named is not None:
        return st.named
    index = _reference_index(st)
    named: Named = {}
    if index:
        rows, keys = _line_keys(st)
        found = [(n, i, ref) for n, ks in zip(rows, keys, strict=True) if ks
                 for key in ks for i, ref in index.get(key, ())]
        if found:
            for n, i, ref in compress(found, _on_their_account(st, found)):
                named.setdefault(n, {}).setdefault(i, ref)
    st.named = named
    return named


def _line_keys(st: State) -> tuple[list[int], Iterable[tuple[str, ...]]]:
    """The free lines that may name an item, and their reference keys: as stored at import
    (`LineColumns.remittance_keys`), extracted here from the remittance where not stored."""
    remittance, stored = st.lines.remittance, st.lines.remittance_keys
    if stored is not None and None in stored:  # rows stored before the keys were
        stored = [remittance_keys(remittance[n] or "") if k is None else k
                  for n, k in enumerate(stored)]
    if stored is None:
        rows = _free_with(st.line_free_mask(), remittance)
        return rows, map(remittance_keys, [remittance[n] or "" for n in rows])
    rows = _free_with(st.line_free_mask(), stored)
    return rows, [stored[n] for n in rows]  # type: ignore[misc]  # no None left


def _on_their_account(st: State, found: list[tuple[int, int, str]]) -> list[bool]:
    """For each (line, item, reference): the item is free, of the line's account and
    currency, and of its direction."""
    lines, items = _ints([f[0] for f in found]), _ints([f[1] for f in found])
    a = st.arrays()
    open_ = st.open_array[items]
    fits: list[bool] = (st.item_free_mask()[items]
                        & (a.line_ledger[lines] == a.item_ledger[items])
                        & ((open_ > 0) == (a.line_amount[lines] > 0))).tolist()
    return fits


def _still_named(st: State) -> list[tuple[int, dict[int, str]]]:
    out = []
    line_free, item_free = st.line_free, st.item_free
    for n, hits in _naming(st).items():
        if not line_free[n]:
            continue
        if all(item_free[i] for i in hits):  # the common case: nothing taken since
            out.append((n, hits))
        else:
            left = {i: ref for i, ref in hits.items() if item_free[i]}
            if left:
                out.append((n, left))
    return out


def reference(st: State) -> None:
    """An invoice or order number in the remittance names the item; amounts agree (or a fee).

    An item named by several lines is left to `many_to_one`: one of them alone may look like
    the item less a fee when it is in fact one part of a split payment. Lines naming several
    items are offered one by one first; the many lines that name one item alone are decided
    together with numpy.
    """
    claims: dict[int, list[tuple[int, str]]] = {}
    for n, hits in _still_named(st):
        if len(hits) == 1:
            ((i, ref),) = hits.items()
            claims.setdefault(i, []).append((n, ref))
        else:
            st.offer_best([f for f in (_reference_found(st, n, i, ref)
                                         for i, ref in hits.items()) if f])
    alone = [(named_by[0][0], i, named_by[0][1]) for i, named_by in claims.items()
             if len(named_by) == 1]
    if alone:
        lines, items, refs = (list(x) for x in zip(*alone, strict=True))
        _offer_alone(st, _ints(lines), _ints(items), refs)


def _ints(values: list[int]) -> Ints:
    return np.array(values, dtype=np.int64)


def _offer_alone(st: State, lines: Ints, items: Ints, refs: list[str]) -> None:
    """`_reference_found` and `offer` for lines that alone name an item, all at once."""
    a, config = st.arrays(), st.config
    free = st.item_free_mask()[items]
    open_ = st.open_array[items]
    amount = a.line_amount[lines]
    diff = open_ - amount
    days = np.abs(a.line_day[lines] - a.item_day[items])
    late = np.where(days <= config.date_window_days, 0, 10)
    fee = (diff > 0) & (diff <= fee_tolerances(open_, config.fee_tolerance_minor,
                                               config.fee_tolerance_per_mille,
                                               config.fee_max_percent))
    found = free & ((diff == 0) | fee)
    confidence = np.where(diff == 0, 97, 93) - late
    sure = found & (confidence >= st.threshold)
    taken = np.flatnonzero(sure).tolist()
    lines_, items_, diffs, days_ = lines.tolist(), items.tolist(), diff.tolist(), days.tolist()
    st.take_all(lines[sure], items[sure], Rule.REFERENCE, confidence[sure].tolist(),
                [_reference_text(st, lines_[k], refs[k], diffs[k], days_[k]) for k in taken],
                [-diffs[k] for k in taken])
    for k in np.flatnonzero(found & ~sure).tolist():
        proposal = _reference_found(st, lines_[k], items_[k], refs[k])
        assert proposal is not None
        st.propose(proposal)


def _when(st: State, days: int) -> tuple[int, str]:
    """A penalty and the words for the distance from the expected date."""
    if days <= st.config.date_window_days:
        return 0, days_text(days)
    return 10, f"{days} days from the expected date"


def _reference_found(st: State, n: int, i: int, ref: str) -> Found | None:
    amount, open_ = st.lines.amount[n], st.open[i]
    diff = open_ - amount
    days = abs(st.lines.day[n] - st.items.day[i])
    late, _ = _when(st, days)
    if diff == 0:
        return Found((n,), (i,), (open_,), Rule.REFERENCE, 97 - late,
                     _reference_text(st, n, ref, diff, days))
    if 0 < diff <= st.config.fee_tolerance(open_):
        return Found((n,), (i,), (open_,), Rule.REFERENCE, 93 - late,
                     _reference_text(st, n, ref, diff, days), -diff)
    return None  # partial or too much: many_to_one looks at it with the item's other lines


def _reference_text(st: State, n: int, ref: str, diff: int, days: int) -> str:
    _, when = _when(st, days)
    if diff == 0:
        return f"reference {ref} in the remittance, same amount, {when}"
    return f"reference {ref} in the remittance, fee {st.money(diff, n)} deducted, {when}"


def many_to_one(st: State) -> None:
    """Several lines naming one item pay it together, or one line pays part of it."""
    groups: dict[int, list[int]] = {}
    shown: dict[int, str] = {}
    for n, hits in _still_named(st):
        if len(hits) == 1:
            ((i, ref),) = hits.items()
            groups.setdefault(i, []).append(n)
            shown[i] = ref
    for i, members in groups.items():
        _group_offer(st, i, members[: st.config.max_group_size], shown[i])


def _group_offer(st: State, i: int, members: list[int], ref: str) -> None:
    open_ = st.open[i]
    total = sum(st.lines.amount[n] for n in members)
    diff = open_ - total
    late, when = _when(st, max(abs(st.lines.day[n] - st.items.day[i]) for n in members))
    count = f"{len(members)} lines name {ref}" if len(members) > 1 else f"the line names {ref}"
    first, lines = members[0], tuple(members)
    if diff == 0:
        st.offer(Found(lines, (i,), (open_,), Rule.MANY_TO_ONE, 94 - late,
                       f"{count} and together pay the open amount, {when}"))
    elif 0 < diff <= st.config.fee_tolerance(open_):
        st.offer(Found(lines, (i,), (open_,), Rule.MANY_TO_ONE, 92 - late,
                       f"{count}, together the open amount less a fee of "
                       f"{st.money(diff, first)}, {when}", -diff))
    elif abs(total) < abs(open_):
        st.offer(Found(lines, (i,), (total,), Rule.MANY_TO_ONE, 91 - late,
                       f"{count}: partial payment {st.money(total, first)} of "
                       f"{st.money(open_, first)}, {st.money(diff, first)} stays open, {when}"))
    else:
        for n in members:
            st.propose(Found((n,), (i,), (st.lines.amount[n],), Rule.MANY_TO_ONE, 60,
                             f"names {ref}, but the lines naming it pay more than is open"))
