"""The rules that read references in the remittance: one line to one item, several to one."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bankgate.domain.errors import InvalidField
from bankgate.domain.recon import Rule
from bankgate.recon.arrays import Ints, fee_tolerances, first_of_groups
from bankgate.recon.state import Found, Naming, State, days_text
from bankgate.recon.text import reference_keys, remittance_keys

__all__ = ["many_to_one", "reference"]



class _Keys(NamedTuple):
    """The reference keys of the free items, one row per (key, item): `first` maps a key to
    its first row, `more` a key that several items carry to all its rows, in item order."""

    item: Ints
    ref: Ints  # into `spellings`
    spellings: list[str]
    first: dict[str, int]
    more: dict[str, list[int]]


def _item_keys(st: State) -> _Keys | None:
    """The keys stored with each free item (`ItemColumns.reference_keys`; computed here only
    for items stored without them), flattened by C-level passes instead of a loop per item."""
    references = st.items.references
    rows = _free_with(st.item_free_mask(), references)
    if not rows:
        return None
    refs = [references[i] for i in rows]
    spellings = list(chain.from_iterable(refs))
    keyed = _stored_item_keys(st, rows, refs)
    per_ref = list(chain.from_iterable(keyed))
    ref_of_key = _repeat(np.arange(len(per_ref), dtype=np.int64), per_ref)
    item = _repeat(_ints(rows), refs)[ref_of_key]
    keys = list(chain.from_iterable(per_ref))
    first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
    more: dict[str, list[int]] = {}
    if len(first) < len(keys):  # a key on several rows: an item's two references, or items
        at = np.fromiter(map(first.__getitem__, keys), np.int64, len(keys))
        for k in np.flatnonzero(at != np.arange(len(keys))).tolist():
            rows_of = more.setdefault(keys[k], [first[keys[k]]])
            if item[rows_of[-1]] != item[k]:  # an item is listed once per key
                rows_of.append(k)
        more = {key: rows_of for key, rows_of in more.items() if len(rows_of) > 1}
    return _Keys(item, ref_of_key, spellings, first, more)


def _stored_item_keys(st: State, rows: list[int], refs: list[tuple[str, ...]]
                      ) -> list[tuple[tuple[str, ...], ...]]:
    """Each row's keys, one tuple per reference: as stored, or computed if not stored.

    Raises:
        InvalidField: an item's stored keys do not have one tuple per reference.
    """
    stored = st.items.reference_keys
    if stored is None:
        return [tuple(map(reference_keys, r)) for r in refs]
    keyed = [_or_computed(stored[i], r) for i, r in zip(rows, refs, strict=True)]
    if list(map(len, keyed)) != list(map(len, refs)):
        bad = next(i for i, k, r in zip(rows, keyed, refs, strict=True) if len(k) != len(r))
        raise InvalidField(f"item {st.items.id[bad]!r}: its stored reference keys do not "
                           "have one entry per reference")
    return keyed


def _or_computed(kept: tuple[tuple[str, ...], ...] | None, refs: tuple[str, ...]
                 ) -> tuple[tuple[str, ...], ...]:
    return kept if kept is not None else tuple(map(reference_keys, refs))


def _repeat(values: Ints, groups: Sequence[Sequence[object]]) -> Ints:
    """Each value repeated as often as its group is long."""
    return np.repeat(values, np.fromiter(map(len, groups), np.int64, len(groups)))


def _free_with(free: npt.NDArray[np.bool_], column: Sequence[object]) -> list[int]:
    """The free rows whose value in `column` is not empty, in order."""
    filled = np.fromiter(map(bool, column), np.bool_, len(column))
    return np.flatnonzero(free & filled).tolist()


def _naming(st: State) -> Naming:
    """Free lines and the free items on their account that their remittance names.

    Computed once per run (by the first of the two rules that needs it); later readers
    keep only the lines and items still free (`_still_named`).
    """
    if st.named is None:
        st.named = _named(st)
    return st.named


def _named(st: State) -> Naming:
    empty = np.zeros(0, dtype=np.int64)
    index = _item_keys(st)
    if index is None:
        return Naming(empty, empty, empty, [])
    rows, keys = _line_keys(st)
    flat = list(chain.from_iterable(keys))
    owner = _repeat(_ints(rows), keys)
    hit_row = np.fromiter(map(index.first.get, flat, repeat(-1)), np.int64, len(flat))
    at = np.flatnonzero(hit_row >= 0)  # positions in `flat`, by line, then key order
    rank = np.zeros(len(at), dtype=np.int64)
    hit_row = hit_row[at]
    if index.more:  # keys several items carry: every item, in item order
        extra = [(p, k, r) for p in at.tolist() if flat[p] in index.more
                 for r, k in enumerate(index.more[flat[p]][1:], 1)]
        if extra:
            more_at, more_row, more_rank = (_ints(list(x)) for x in zip(*extra, strict=True))
            at, hit_row = np.concatenate((at, more_at)), np.concatenate((hit_row, more_row))
            rank = np.concatenate((rank, more_rank))
            order = np.lexsort((rank, at))
            at, hit_row = at[order], hit_row[order]
    line, item, ref = owner[at], index.item[hit_row], index.ref[hit_row]
    fits = _on_their_account(st, line, item)
    line, item, ref = line[fits], item[fits], ref[fits]
    pair = line * len(st.items) + item
    _, first = np.unique(pair, return_index=True)  # a line naming an item twice: first kept
    first.sort()
    return Naming(line[first], item[first], ref[first], index.spellings)


def _line_keys(st: State) -> tuple[list[int], list[tuple[str, ...]]]:
    """The free lines that may name an item, and their reference keys: as stored at import
    (`LineColumns.remittance_keys`), extracted here from the remittance where not stored."""
    remittance, stored = st.lines.remittance, st.lines.remittance_keys
    if stored is not None and None in stored:  # rows stored before the keys were
        stored = [remittance_keys(remittance[n] or "") if k is None else k
                  for n, k in enumerate(stored)]
    if stored is None:
        rows = _free_with(st.line_free_mask(), remittance)
        keys = [remittance_keys(remittance[n] or "") for n in rows]
        return rows, keys
    rows = _free_with(st.line_free_mask(), stored)
    return rows, [stored[n] for n in rows]  # type: ignore[misc]  # no None left


def _on_their_account(st: State, lines: Ints, items: Ints) -> npt.NDArray[np.bool_]:
    """For each (line, item): the item is free, of the line's account and currency, and of
    its direction."""
    a = st.arrays()
    fits: npt.NDArray[np.bool_] = st.item_free_mask()[items]
    fits &= a.line_ledger[lines] == a.item_ledger[items]
    fits &= (st.open_array[items] > 0) == (a.line_amount[lines] > 0)
    return fits


def _still_named(st: State) -> Naming:
    """`_naming`, without the lines and items taken since, and how many items each line
    still names (one per row)."""
    named = _naming(st)
    keep = st.line_free_mask()[named.line] & st.item_free_mask()[named.item]
    return Naming(named.line[keep], named.item[keep], named.ref[keep], named.spellings)


def _lines_naming(named: Naming) -> tuple[Ints, Ints]:
    """The first row of each line in `named`, and how many items the line names."""
    starts = np.flatnonzero(first_of_groups(named.line))
    return starts, np.diff(np.append(starts, len(named.line)))


def reference(st: State) -> None:
    """An invoice or order number in the remittance names the item; amounts agree (or a fee).

    An item named by several lines is left to `many_to_one`: one of them alone may look like
    the item less a fee when it is in fact one part of a split payment. Lines naming several
    items are offered one by one first; the many lines that name one item alone are decided
    together with numpy.
    """
    named = _still_named(st)
    starts, counts = _lines_naming(named)
    lines, items, refs, spelled = (named.line.tolist(), named.item.tolist(), named.ref,
                                   named.spellings)
    several = np.flatnonzero(counts > 1)
    for first, count in zip(starts[several].tolist(), counts[several].tolist(), strict=True):
        n = lines[first]
        st.offer_best([f for f in (_reference_found(st, n, items[k], spelled[refs[k]])
                                   for k in range(first, first + count)) if f])
    single = starts[counts == 1]  # lines naming one item; in row order
    item = named.item[single]
    alone = single[_once(item)]  # … that no other such line names
    if len(alone):
        _offer_alone(st, named.line[alone], named.item[alone],
                     [spelled[r] for r in refs[alone].tolist()])


def _once(values: Ints) -> npt.NDArray[np.bool_]:
    """True where a value occurs once in `values`."""
    ordered = np.sort(values)
    once: npt.NDArray[np.bool_] = (np.searchsorted(ordered, values, "right")
                                   - np.searchsorted(ordered, values, "left")) == 1
    return once


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
    named = _still_named(st)
    starts, counts = _lines_naming(named)
    single = starts[counts == 1]  # lines naming one item alone, in row order
    if not len(single):
        return
    line, item, ref = named.line[single], named.item[single], named.ref[single]
    by_item = np.lexsort((line, item))  # each item's lines in row order
    heads = np.flatnonzero(first_of_groups(item[by_item]))
    ends = np.append(heads[1:], len(by_item))
    lines, cap = line[by_item].tolist(), st.config.max_group_size
    shown = ref[by_item[ends - 1]].tolist()  # the reference as the item's last line names it
    items = item[by_item[heads]].tolist()
    for g in np.argsort(line[by_item[heads]], kind="stable").tolist():  # by first line
        members = lines[heads[g]:ends[g]][:cap]
        _group_offer(st, items[g], members, named.spellings[shown[g]])


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
