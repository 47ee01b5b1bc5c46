"""The rules that rest on identifiers and exact amounts: ids, batches, amount + account."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, repeat

import numpy as np
import numpy.typing as npt

from bankgate.domain.recon import Rule
from bankgate.recon.arrays import Ints, expand, first_of_groups, join
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import normalise_account

__all__ = ["amount_account", "batch", "exact_id"]


def _id_index(st: State) -> tuple[dict[str | None, int], dict[str, list[int]]]:
    """Each id → its item; ids that several items carry (a payment and its return) → all.

    Built with C-level dict construction; only the rows that repeat an id are walked.
    """
    unique: dict[str | None, int] = {}
    shared: dict[str, list[int]] = {}
    for column in (st.items.end_to_end_id, st.items.instruction_id):
        if not any(column):
            continue
        earliest = dict(zip(reversed(column), range(len(column) - 1, -1, -1), strict=True))
        earliest.pop(None, None)
        earliest.pop("", None)
        rows = _rows_of(earliest, column)
        later = np.flatnonzero((rows >= 0) & (rows != np.arange(len(column))))
        if unique:
            _add(unique, shared, earliest.items())
        else:
            unique = earliest
        _add(unique, shared, ((column[i] or "", i) for i in later.tolist()))
    return unique, shared


def _add(unique: dict[str | None, int], shared: dict[str, list[int]],
         keyed: Iterable[tuple[str | None, int]]) -> None:
    for key, i in keyed:
        assert key  # None and "" carry no id and are not indexed
        first = unique.setdefault(key, i)
        if first != i:
            shared.setdefault(key, [first]).append(i)


def exact_id(st: State) -> None:
    """The bank echoes our end-to-end or instruction id: 100 when the amount agrees too.

    The hot path of a million-line run. The common case (exactly one free item carries the id
    with the line's account, currency and amount) is found for all lines at once with numpy
    and taken in bulk; every other line whose id an item carries goes through `_by_ids`.
    """
    unique, shared = _id_index(st)
    if not unique:
        return
    lines, a = st.lines, st.arrays()
    e2es, instructions = lines.end_to_end_id, lines.instruction_id
    hits = _rows_of(unique, e2es)
    open_ = st.open_array
    free, item_free = st.line_free_mask(), st.item_free_mask()
    found = np.flatnonzero(hits >= 0)
    items = hits[found]
    sure = found[free[found] & item_free[items] & (open_[items] == a.line_amount[found])
                 & (a.item_ledger[items] == a.line_ledger[found])]
    if shared:  # an id on several items (a payment and its return, two transfer legs)
        doubtful = _doubtful(st, shared, found, items)
        resolved = _resolve_shared(st, np.flatnonzero(doubtful & free), shared, hits, open_)
        sure = np.sort(np.concatenate((sure[~doubtful[sure]], resolved)))  # disjoint
    _take_whole(st, sure, hits[sure])
    named = hits >= 0
    if any(instructions):
        named |= _rows_of(unique, instructions) >= 0
    for n in np.flatnonzero(named & free).tolist():  # `_by_ids` takes only line n itself
        _by_ids(st, n, unique, shared)


def _doubtful(st: State, shared: dict[str, list[int]], found: Ints,
              items: Ints) -> npt.NDArray[np.bool_]:
    """Which lines' end-to-end id several items carry (`found`: the lines whose id an item
    carries, `items`: that item). Such an id names the first of its carriers, so only the
    lines that hit a carrier are looked up, not all of them."""
    carrier = np.zeros(len(st.items), dtype=np.bool_)
    carrier[_ints(list(chain.from_iterable(shared.values())))] = True
    e2es = st.lines.end_to_end_id
    doubtful = np.zeros(len(e2es), dtype=np.bool_)
    doubtful[_ints([n for n in found[carrier[items]].tolist() if e2es[n] in shared])] = True
    return doubtful


def _rows_of(unique: dict[str | None, int], ids: list[str | None]) -> Ints:
    """The item row each id names, or -1."""
    return np.fromiter(map(unique.get, ids, repeat(-1)), np.int64, len(ids))


def _ints(values: list[int]) -> Ints:
    return np.array(values, dtype=np.int64)


def _take_whole(st: State, rows: Ints, items: Ints) -> None:
    """Take each line of `rows` (ascending) with its item, the whole open amount settled, as
    bulk exact-id matches; of two lines naming one item the first takes it."""
    by_item = np.argsort(items, kind="stable")
    first = np.sort(by_item[first_of_groups(items[by_item])])
    count = len(first)
    st.take_all(rows[first], items[first], Rule.EXACT_ID, [100] * count, [None] * count,
                [0] * count)  # None: see `State.explanation`


def _resolve_shared(st: State, rows: Ints, shared: dict[str, list[int]], hits: Ints,
                    open_: Ints) -> Ints:
    """The lines among `rows` for which exactly one free item carrying their id has their
    account, currency and amount; `hits` is pointed at it. The others are left to `_by_ids`."""
    e2es = st.lines.end_to_end_id
    carriers = [shared[e2es[n] or ""] for n in rows.tolist()]
    owner, _ = expand(np.zeros(len(rows), dtype=np.int64), _ints(list(map(len, carriers))))
    items = _ints(list(chain.from_iterable(carriers)))
    a, line = st.arrays(), rows[owner]
    fits = (st.item_free_mask()[items] & (open_[items] == a.line_amount[line])
            & (a.item_ledger[items] == a.line_ledger[line]))
    once = np.bincount(owner[fits], minlength=len(rows)) == 1
    pick = fits & once[owner]
    hits[line[pick]] = items[pick]
    resolved: Ints = line[pick]
    return resolved


def _by_ids(st: State, n: int, unique: dict[str | None, int], shared: dict[str, list[int]]) -> None:
    seen: dict[int, str] = {}
    for key in (st.lines.end_to_end_id[n], st.lines.instruction_id[n]):
        if key and key in unique:
            for i in shared.get(key) or (unique[key],):
                seen.setdefault(i, key)
    candidates = [_by_id(st, n, i, key) for i, key in seen.items()]
    st.offer_best([c for c in candidates if c is not None])


def _by_id(st: State, n: int, i: int, key: str) -> Found | None:
    items, lines = st.items, st.lines
    if not st.item_free[i] or items.account[i] != lines.account[n]:
        return None
    if items.currency[i] != lines.currency[n]:
        return None
    amount, open_ = lines.amount[n], st.open[i]
    if (amount > 0) != (open_ > 0):
        return None
    what = "end-to-end id" if key == items.end_to_end_id[i] else "instruction id"
    diff = open_ - amount
    if diff == 0:
        return Found((n,), (i,), (open_,), Rule.EXACT_ID, 100,
                     f"{what} {key} matches, same amount")
    if 0 < diff <= st.config.fee_tolerance(open_):
        return Found((n,), (i,), (open_,), Rule.EXACT_ID, 96,
                     f"{what} {key} matches, fee {st.money(diff, n)} deducted", -diff)
    if abs(amount) < abs(open_):
        return Found((n,), (i,), (amount,), Rule.EXACT_ID, 90,
                     f"{what} {key} matches, partial payment {st.money(amount, n)} of "
                     f"{st.money(open_, n)}")
    return Found((n,), (i,), (open_,), Rule.EXACT_ID, 50,
                 f"{what} {key} matches but the amount differs by {st.money(diff, n)}")


def batch(st: State) -> None:
    """One debit equals the sum of a batch's open items (the bank booked the batch as one)."""
    items = st.items
    groups: dict[tuple[str, str, str], list[int]] = {}
    batch_ids = items.batch_id
    in_batch = np.fromiter(map(bool, batch_ids), np.bool_, len(batch_ids))
    whole = st.item_free_mask() & in_batch & (st.open_array == st.arrays().item_amount)
    for i in np.flatnonzero(whole).tolist():  # free and nothing settled yet
        groups.setdefault((items.account[i], items.currency[i], batch_ids[i] or ""),
                          []).append(i)
    by_sum: dict[tuple[str, str, int], list[tuple[str, list[int]]]] = {}
    for (account, code, batch_id), members in groups.items():
        if len(members) > 1:
            total = sum(st.open[i] for i in members)
            by_sum.setdefault((account, code, total), []).append((batch_id, members))
    if not by_sum:
        return
    lines, totals = st.lines, _ints(sorted({total for _, _, total in by_sum}))
    amounts = lines.amount
    maybe = st.line_free_mask() & np.isin(st.arrays().line_amount, totals)
    for n in np.flatnonzero(maybe).tolist():
        hits = by_sum.get((lines.account[n], lines.currency[n], amounts[n]))
        if hits:
            st.offer_best([f for f in (_batch_found(st, n, b, m) for b, m in hits) if f])


def _batch_found(st: State, n: int, batch_id: str, members: list[int]) -> Found | None:
    if not all(st.item_free[i] for i in members):
        return None
    days = max(abs(st.lines.day[n] - st.items.day[i]) for i in members)
    if days > st.config.date_window_days:
        return None
    lines = st.lines
    named = any(batch_id in (text or "") for text in (
        lines.end_to_end_id[n], lines.instruction_id[n], lines.remittance[n]))
    confidence = 99 if named else 95 - days
    how = f"batch {batch_id} named in the line, " if named else f"batch {batch_id}: "
    return Found((n,), tuple(members), tuple(st.open[i] for i in members), Rule.BATCH,
                 confidence,
                 f"{how}{len(members)} payments sum to the amount, {days_text(days)}")


def amount_account(st: State) -> None:
    """Same amount, same counterparty account, date within the window.

    Lines and items are joined on (ledger, amount, normalised counterparty account) with
    numpy. A line whose single hit no other line shares is decided in bulk; the rest (several
    hits, or an item two lines hit) in row order, as one by one.
    """
    pairs = _account_pairs(st)
    if pairs is None:
        return
    line, item = pairs
    a, window, threshold = st.arrays(), st.config.date_window_days, st.threshold
    apart = np.abs(a.line_day[line] - a.item_day[item])
    starts = np.flatnonzero(first_of_groups(line))
    alone = np.diff(np.append(starts, len(line))) == 1  # per line: one hit
    by_item = np.sort(item)
    once = np.searchsorted(by_item, item, "right") - np.searchsorted(by_item, item, "left") == 1
    fast = alone & once[starts] & (apart[starts] <= window) & (97 - apart[starts] >= threshold)
    bulk = starts[fast]
    _take_alone(st, line[bulk], item[bulk], apart[bulk])
    slow = np.ones(len(line), dtype=np.bool_)
    slow[bulk] = False
    _one_by_one(st, line[slow].tolist(), item[slow].tolist(), apart[slow].tolist())


def _account_pairs(st: State) -> tuple[Ints, Ints] | None:
    """Every (free line, free item) of one ledger with the same amount (the item's open one)
    and counterparty account, by line then item."""
    items, item_numbers, item_hashes = _accounts(st.items.counterparty_account,
                                                 st.free_items())
    if not len(items):
        return None
    lines, numbers, hashes = _accounts(st.lines.counterparty_account, st.free_rows())
    a = st.arrays()
    item_open = st.open_array[items]
    item_ledger = a.item_ledger[items]
    amount, ledger = a.line_amount[lines], a.line_ledger[lines]
    owner, hit = join(_join_keys(item_ledger, item_hashes, item_open),
                      _join_keys(ledger, hashes, amount))
    same = ((ledger[owner] == item_ledger[hit]) & (amount[owner] == item_open[hit])
            & (numbers[owner] == item_numbers[hit]))  # a hash collision joins nothing
    return lines[owner[same]], items[hit[same]]


def _accounts(column: list[str | None], rows: list[int]) -> tuple[Ints, _Objects, Ints]:
    """The rows with a counterparty account, the account normalised, and its hash."""
    numbers = np.array(list(map(column.__getitem__, rows)), dtype=object)
    kept = numbers.astype(np.bool_)
    numbers = numbers[kept]
    odd = np.flatnonzero(~np.fromiter(map(str.isdigit, numbers), np.bool_, len(numbers)))
    if len(odd):  # most are digits only, and stay as they are
        numbers[odd] = [normalise_account(x) for x in numbers[odd].tolist()]
    hashes = np.fromiter(map(hash, numbers), np.int64, len(numbers))
    return _ints(rows)[kept], numbers, hashes


_Objects = npt.NDArray[np.object_]


def _join_keys(ledger: Ints, account: Ints, amount: Ints) -> Ints:
    with np.errstate(over="ignore"):
        keys: Ints = (ledger * 1_000_003 + account) * 1_000_000_007 + amount
    return keys


def _take_alone(st: State, lines: Ints, items: Ints, apart: Ints) -> None:
    """Take the lines whose one hit nobody else shares: same amount, no fee."""
    days = apart.tolist()
    st.take_all(lines, items, Rule.AMOUNT_ACCOUNT, [97 - d for d in days],
                [_account_text(d) for d in days], [0] * len(days))


def _one_by_one(st: State, lines: list[int], items: list[int], apart: list[int]) -> None:
    """The other lines in row order: a single free hit in the window is taken, several are
    offered (best first, ties to the manual queue)."""
    item_free, open_, amounts = st.item_free, st.open, st.lines.amount
    window, threshold = st.config.date_window_days, st.threshold
    k = 0
    while k < len(lines):
        n, end = lines[k], k + 1
        while end < len(lines) and lines[end] == n:
            end += 1
        i, days = items[k], apart[k]
        if (end == k + 1 and item_free[i] and open_[i] == amounts[n] and days <= window
                and 97 - days >= threshold):
            st.take_one(n, i, amounts[n], Rule.AMOUNT_ACCOUNT, 97 - days, _account_text(days))
        else:
            st.offer_best([f for f in (_account_found(st, n, i) for i in items[k:end]) if f])
        k = end


def _account_text(days: int) -> str:
    if days < len(_ACCOUNT_TEXT):
        return _ACCOUNT_TEXT[days]
    return f"same amount, same counterparty account, {days_text(days)}"


_ACCOUNT_TEXT = tuple(f"same amount, same counterparty account, {days_text(d)}" for d in range(8))


def _account_found(st: State, n: int, i: int) -> Found | None:
    if not st.item_free[i] or st.open[i] != st.lines.amount[n]:
        return None
    days = st.within(n, i)
    if days is None:
        return None
    return Found((n,), (i,), (st.open[i],), Rule.AMOUNT_ACCOUNT, 97 - days,
                 f"same amount, same counterparty account, {days_text(days)}")
