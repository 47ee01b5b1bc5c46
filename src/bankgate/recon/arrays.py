"""numpy forms of the columns for the vectorised passes, and the joins they share.

Built once per run, inside the run (`State.arrays`): the columns arrive as Python lists, and
turning them into arrays costs ~0.03 s per million numbers. Accounts and currencies become one
integer code per row ("ledger": same code, same account and currency), so the rules compare
integers instead of strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

from bankgate.recon.columns import ItemColumns, LineColumns

__all__ = ["Arrays", "Ints", "arrays_of", "expand", "fee_tolerances", "first_of_groups",
           "join"]

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Arrays:
    """Amounts, dates and ledger codes of every line and item, as int64 arrays."""

    line_amount: Ints
    line_day: Ints
    line_ledger: Ints
    item_amount: Ints
    item_day: Ints
    item_ledger: Ints


def arrays_of(lines: LineColumns, items: ItemColumns) -> Arrays:
    """The arrays of these columns; lines and items share one ledger code table."""
    line_code, item_code = _codes(lines.currency, items.currency, small=True)
    currencies = int(max(line_code.max(initial=0), item_code.max(initial=0))) + 1
    if currencies == 1:  # the account's code alone tells the ledger
        line_ledger, item_ledger = _codes(lines.account, items.account, small=False)
    else:
        line_account, item_account = _codes(lines.account, items.account, small=True)
        line_ledger = line_account * currencies + line_code
        item_ledger = item_account * currencies + item_code
    return Arrays(
        line_amount=_ints(lines.amount),
        line_day=_ints(lines.day),
        line_ledger=line_ledger,
        item_amount=_ints(items.amount),
        item_day=_ints(items.day),
        item_ledger=item_ledger,
    )


def _ints(values: Sequence[int]) -> Ints:
    return np.fromiter(values, np.int64, len(values))


def _codes(*columns: list[str], small: bool) -> list[Ints]:
    """One integer per distinct value, the same across the columns: 0, 1, 2 … if `small`.

    By each value's hash (a C-level pass per column instead of a dict lookup per row in
    Python), once no two distinct values share a hash; `small` looks the hashes up among the
    few distinct values' with numpy. One distinct value (one currency, usually) is all zeros.
    """
    distinct = sorted(set(chain.from_iterable(set(column) for column in columns)))
    if len(distinct) == 1:
        return [np.zeros(len(column), dtype=np.int64) for column in columns]
    hashes = np.array([hash(x) for x in distinct], dtype=np.int64)
    order = np.argsort(hashes)
    if len(np.unique(hashes[order])) < len(distinct):  # two values, one hash: by dict
        table = {value: code for code, value in enumerate(distinct)}
        return [np.fromiter(map(table.__getitem__, column), np.int64, len(column))
                for column in columns]
    if not small:
        return [np.fromiter(map(hash, column), np.int64, len(column)) for column in columns]
    sorted_hashes = hashes[order]
    return [order[np.searchsorted(sorted_hashes,
                                  np.fromiter(map(hash, column), np.int64, len(column)))]
            for column in columns]


def fee_tolerances(amounts: Ints, fee_minor: int, per_mille: int, max_percent: int) -> Ints:
    """`MatchConfig.fee_tolerance` of each amount."""
    size = np.abs(amounts)
    allowed = np.maximum(fee_minor, size * per_mille // 1000)
    tolerance: Ints = np.minimum(allowed, size * max_percent // 100)
    return tolerance


def expand(starts: Ints, counts: Ints) -> tuple[Ints, Ints]:
    """For ranges [start, start + count): (which range, position) of every element, in order."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts
    return owner, starts[owner] + np.arange(total, dtype=np.int64) - offsets[owner]


def join(keys: Ints, wanted: Ints) -> tuple[Ints, Ints]:
    """Every (position in `wanted`, position in `keys`) with equal keys, by `wanted` and, for
    equal keys, in the order of `keys`: a hash join done by sorting."""
    by_key = np.argsort(keys, kind="stable")
    sorted_keys = keys[by_key]
    low = np.searchsorted(sorted_keys, wanted, side="left")
    high = np.searchsorted(sorted_keys, wanted, side="right")
    owner, at = expand(low, high - low)
    return owner, by_key[at]


def first_of_groups(keys: Ints) -> npt.NDArray[np.bool_]:
    """True where a sorted key differs from the one before it (the first of its group)."""
    first = np.ones(len(keys), dtype=np.bool_)
    first[1:] = keys[1:] != keys[:-1]
    return first
