"""The fuzzy counterparty-name rule: a similar name, the amount less at most a fee, date in window.

Candidates come from a bucket join on (account, currency, amount band, date band), so a line is
compared with the few items near its amount and date, never with all of them; names are
normalised once per distinct name and compared with rapidfuzz's `ratio` (`cpdist`, over arrays).
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import numpy.typing as npt
from rapidfuzz.fuzz import ratio
from rapidfuzz.process import cpdist

from bankgate.domain.recon import Rule
from bankgate.recon.arrays import Ints, expand, fee_tolerances, first_of_groups, join
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import name_forms

__all__ = ["fuzzy_name"]


def fuzzy_name(st: State) -> None:
    """Match by similar name, strongest claims first (see `_assign_best_first`).

    Candidates are found for all lines at once with numpy (bucket join, amount, date and sign
    conditions), names compared with rapidfuzz over arrays; only the assignment, which must see
    each take before the next claim, walks the claims one by one.
    """
    pairs = _near_pairs(st)
    if pairs is None:
        return
    line, item, diff, apart = pairs
    score = _scores(st, line, item)
    config = st.config
    confidence = np.maximum(
        _name_confidences(score, config.name_similarity_cutoff, st.threshold)
        - (diff > 0) - (apart > 1), 0)
    order = np.lexsort((-item, -confidence, line))  # per line: best first, as tuples sort
    _assign_best_first(st, [x[order] for x in (line, confidence, item, diff, apart, score)])


_Pairs = tuple[Ints, Ints, Ints, Ints]  # line, item, fee (item − line), days apart


def _near_pairs(st: State) -> _Pairs | None:
    """Every (free named line, free named item) of one ledger whose item is the line's amount
    or up to a fee more, of the same sign, within the date window.

    Items are bucketed by (ledger, amount band, date band); a line looks in the bands its
    amount, fee tolerance and window reach (as a dict index per line did, without the loop).
    """
    names, item_names = st.lines.counterparty_name, st.items.counterparty_name
    rows = _ints([n for n in st.free_rows() if names[n]])
    kept = _ints([i for i in st.free_items() if item_names[i]])
    if not len(rows) or not len(kept):
        return None
    a, config = st.arrays(), st.config
    width, span = config.fee_tolerance_minor + 1, config.date_window_days + 1
    window = config.date_window_days
    open_ = st.open_array
    item_open, item_day, item_ledger = open_[kept], a.item_day[kept], a.item_ledger[kept]
    amount, day, ledger = a.line_amount[rows], a.line_day[rows], a.line_ledger[rows]
    tolerance = fee_tolerances(amount, config.fee_tolerance_minor,
                               config.fee_tolerance_per_mille, config.fee_max_percent)
    band, last_band = amount // width, (amount + tolerance) // width
    dates, last_dates = (day - window) // span, (day + window) // span
    per_band = last_dates - dates + 1
    owner, k = expand(np.zeros(len(rows), dtype=np.int64), (last_band - band + 1) * per_band)
    which, item = join(_bucket_keys(item_ledger, item_open // width, item_day // span),
                       _bucket_keys(ledger[owner], band[owner] + k // per_band[owner],
                                    dates[owner] + k % per_band[owner]))
    line = owner[which]  # positions in rows; item: in kept
    fee = item_open[item] - amount[line]
    apart = np.abs(day[line] - item_day[item])
    good = ((ledger[line] == item_ledger[item]) & (fee >= 0) & (fee <= tolerance[line])
            & (apart <= window) & ((item_open[item] > 0) == (amount[line] > 0)))
    line, item, fee, apart = line[good], item[good], fee[good], apart[good]
    # a bucket key shared by two of a line's bands (a hash collision) would list an item twice
    _, once = np.unique(line * len(kept) + item, return_index=True)
    return rows[line[once]], kept[item[once]], fee[once], apart[once]


def _bucket_keys(ledger: Ints, band: Ints, dates: Ints) -> Ints:
    """One int64 per (ledger, amount band, date band); a collision only adds candidates, which
    the exact conditions then drop."""
    with np.errstate(over="ignore"):
        return (ledger * 1_000_003 + band) * 1_000_033 + dates


def _ints(values: list[int]) -> Ints:
    return np.array(values, dtype=np.int64)


def _scores(st: State, line: Ints, item: Ints) -> Ints:
    """How similar each pair's names are, in percent; each distinct name normalised once.

    Normalised forms compared, or the forms as written when that is higher (a typo must not
    hide a company suffix); equal normalised forms score 100. Names whose numbers differ
    ("… Shipping 75" and "… Shipping 50", branches numbered in digits) are different
    companies however alike the rest: at most 50.
    """
    names, item_names = st.lines.counterparty_name, st.items.counterparty_name
    rows, at_row = np.unique(line, return_inverse=True)
    kept, at_item = np.unique(item, return_inverse=True)
    line_names = list(map(names.__getitem__, rows.tolist()))  # all named (`_near_pairs`)
    item_names_ = list(map(item_names.__getitem__, kept.tolist()))
    distinct = list(dict.fromkeys(chain(line_names, item_names_)))
    table = dict(zip(distinct, range(len(distinct)), strict=True))
    ours = np.fromiter(map(table.__getitem__, line_names), np.int64, len(line_names))
    theirs = np.fromiter(map(table.__getitem__, item_names_), np.int64, len(item_names_))
    ours, theirs = ours[at_row.ravel()], theirs[at_item.ravel()]
    forms = list(map(name_forms, distinct))
    same, digits = _form_codes(forms, 0), _form_codes(forms, 2)
    score = np.full(len(line), 100, dtype=np.int64)
    other = np.flatnonzero(same[ours] != same[theirs])
    if len(other):
        pair, back = np.unique(ours[other] * len(forms) + theirs[other], return_inverse=True)
        left, right = (pair // len(forms)).tolist(), (pair % len(forms)).tolist()
        best = np.maximum(*(cpdist([forms[x][k] for x in left], [forms[x][k] for x in right],
                                   scorer=ratio, dtype=np.float64) for k in (0, 1)))
        score[other] = best.astype(np.int64)[back.ravel()]
    differ = digits[ours] != digits[theirs]
    score[differ] = np.minimum(score[differ], 50)
    return score


def _form_codes(forms: list[tuple[str, str, str]], k: int) -> Ints:
    """Equal codes for names whose k-th form is equal."""
    table: dict[str, int] = {}
    return _ints([table.setdefault(f[k], len(table)) for f in forms])


def _name_confidences(score: Ints, cutoff: int, threshold: int) -> Ints:
    """92 at the cut-off up to 97 for the same name; below the cut-off never confirmed.

    The name is the last of three pieces of evidence (amount within the fee tolerance, date in
    the window, and the candidate being the best by a margin, which the caller checks).
    """
    above = 92 + (score - cutoff) * 5 // max(100 - cutoff, 1)
    return np.where(score < cutoff, np.minimum(score, threshold - 1), above)


def _assign_best_first(st: State, ranked: list[Ints]) -> None:
    """Strongest claims first, so a weak line cannot take the item a better line names.

    `ranked` is (line, confidence, item, fee, days apart, score) of every candidate, each
    line's best first. A line whose two best items are about as good (within 5), or an item
    that two lines claim about as well, goes to the manual queue instead.
    """
    line, confidence, item = ranked[0], ranked[1], ranked[2]
    starts = np.flatnonzero(first_of_groups(line))
    sizes = np.diff(np.append(starts, len(line)))
    best, best_item = confidence[starts], item[starts]
    second = np.where(sizes > 1, confidence[np.minimum(starts + 1, len(line) - 1)], -100)
    line_tie = second >= best - 5
    item_tie = _item_ties(best, best_item)
    order = np.lexsort((line[starts], -best)).tolist()  # strongest first; then in row order
    candidates = [x.tolist() for x in ranked]
    starts_, sizes_, best_ = starts.tolist(), sizes.tolist(), best.tolist()
    ties, by_line = (line_tie | item_tie).tolist(), line_tie.tolist()
    item_free, threshold, keep = st.item_free, st.threshold, st.config.max_suggestions
    cap = min(threshold - 1, 70)
    taken: list[int] = []  # positions in `candidates` of the best candidates taken
    for claim in order:
        first = starts_[claim]
        end = first + min(sizes_[claim], keep)
        if not ties[claim]:
            if best_[claim] >= threshold and item_free[candidates[2][first]]:
                item_free[candidates[2][first]] = 0
                taken.append(first)
                continue
            for k in range(first, end):  # the best is proposed too, then the others
                st.propose(_found(st, candidates, k))
            continue
        why = "; another candidate as good" if by_line[claim] else "; another line as good"
        for k in range(first, end):
            st.propose(_found(st, candidates, k, cap=cap, why=why))
    _take_all(st, ranked, taken)


def _item_ties(best: Ints, best_item: Ints) -> npt.NDArray[np.bool_]:
    """For each line's best candidate: another line's best is the same item and about as
    good (the two strongest claims on an item within 5)."""
    order = np.lexsort((-best, best_item))
    items, confidences = best_item[order], best[order]
    first = first_of_groups(items)
    group = np.cumsum(first) - 1
    heads = np.flatnonzero(first)
    top = confidences[heads][group]
    runner = np.full(len(heads), -100, dtype=np.int64)
    has_two = np.diff(np.append(heads, len(items))) > 1
    runner[has_two] = confidences[heads[has_two] + 1]
    tie = np.empty(len(best), dtype=np.bool_)
    tie[order] = runner[group] >= top - 5
    return tie


def _take_all(st: State, ranked: list[Ints], taken: list[int]) -> None:
    """Take the best candidates chosen, the whole open amount settled."""
    at = _ints(taken)
    lines, confidence, items, fees, days, scores = (x[at] for x in ranked)
    texts: dict[tuple[int, int, int, str], str] = {}  # a few hundred distinct texts at 1M
    currency = st.lines.currency
    st.take_all(lines, items, Rule.FUZZY_NAME, confidence.tolist(),
                [texts.get((f, d, c, currency[n])) or texts.setdefault(
                    (f, d, c, currency[n]), _text(st, n, f, d, c))
                 for n, f, d, c in zip(lines.tolist(), fees.tolist(), days.tolist(),
                                       scores.tolist(), strict=True)],
                (-fees).tolist())


def _text(st: State, n: int, fee: int, days: int, score: int, why: str = "") -> str:
    how = "same amount" if fee == 0 else f"fee {st.money(fee, n)} deducted"
    return f"{how}, {days_text(days)}, name {score}% similar{why}"


def _found(st: State, candidates: list[list[int]], k: int, cap: int = 100,
           why: str = "") -> Found:
    lines, confidence, items, fees, days, scores = candidates
    n, i, fee = lines[k], items[k], fees[k]
    return Found((n,), (i,), (st.open[i],), Rule.FUZZY_NAME, min(confidence[k], cap),
                 _text(st, n, fee, days[k], scores[k], why), -fee)
