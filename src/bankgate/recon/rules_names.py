"""The fuzzy counterparty-name rule: a similar name, the amount less at most a fee, date in window.

Candidates come from a bucket index keyed by (account, currency, amount band, date band), so a
line is compared with the few items near its amount and date, never with all of them; names are
normalised once per distinct name and compared with rapidfuzz's `ratio`.
"""

from __future__ import annotations

from rapidfuzz.fuzz import ratio

from bankgate.domain.recon import Rule
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import name_forms

__all__ = ["fuzzy_name"]

# (confidence, item row, fee, days apart, name score): cheap until one is kept.
_Candidate = tuple[int, int, int, int, int]


def fuzzy_name(st: State) -> None:
    """Match by similar name, strongest claims first (see `_assign_best_first`)."""
    index, width, span = _bucket_index(st)
    if not index:
        return
    lines, config = st.lines, st.config
    window = config.date_window_days
    claims: list[tuple[int, list[_Candidate]]] = []
    names, amounts, days = lines.counterparty_name, lines.amount, lines.day
    for n in st.free_rows():
        name = names[n]
        bands = index.get((lines.account[n], lines.currency[n])) if name else None
        if bands is None or name is None:
            continue
        amount, day = amounts[n], days[n]
        tolerance = config.fee_tolerance(amount)
        near: list[int] = []
        for band in range(amount // width, (amount + tolerance) // width + 1):
            for dates in range((day - window) // span, (day + window) // span + 1):
                near.extend(bands.get(band * _DATE_BANDS + dates, ()))
        if near:
            candidates = _candidates(st, n, _forms(st, name), amount, tolerance, near)
            if candidates:
                claims.append((n, candidates))
    _assign_best_first(st, claims)


_DATE_BANDS = 1_000_000  # > any date ordinal // span: (band, date band) as one int key


def _bucket_index(st: State) -> tuple[dict[tuple[str, str], dict[int, list[int]]], int, int]:
    """(account, currency) → (amount band, date band) → free items with a name."""
    items = st.items
    width = st.config.fee_tolerance_minor + 1
    span = st.config.date_window_days + 1
    index: dict[tuple[str, str], dict[int, list[int]]] = {}
    open_, days = st.open, items.day
    names = items.counterparty_name
    for i in st.free_items():
        if names[i]:
            bands = index.setdefault((items.account[i], items.currency[i]), {})
            bands.setdefault(open_[i] // width * _DATE_BANDS + days[i] // span, []).append(i)
    return index, width, span


def _forms(st: State, name: str) -> tuple[str, str, str]:
    """Normalised, folded and digits of a name; once per distinct name and run."""
    forms = st.names.get(name)
    if forms is None:
        forms = st.names[name] = name_forms(name)
    return forms


def _candidates(st: State, n: int, ours: tuple[str, str, str], amount: int, tolerance: int,
                near: list[int]) -> list[_Candidate]:
    found: list[_Candidate] = []
    cutoff, threshold = st.config.name_similarity_cutoff, st.threshold
    window, day, credit = st.config.date_window_days, st.lines.day[n], amount > 0
    item_free, open_, item_days = st.item_free, st.open, st.items.day
    names, forms = st.items.counterparty_name, st.names
    for i in near:
        diff = open_[i] - amount
        apart = abs(day - item_days[i])
        if not item_free[i] or not 0 <= diff <= tolerance or apart > window:
            continue
        if (open_[i] > 0) != credit:
            continue
        raw = names[i] or ""
        score = _similarity(ours, forms.get(raw) or _forms(st, raw))
        confidence = (_name_confidence(score, cutoff, threshold) - (1 if diff else 0)
                      - (1 if apart > 1 else 0))
        found.append((max(confidence, 0), i, diff, apart, score))
    found.sort(reverse=True)
    return found


def _similarity(ours: tuple[str, str, str], theirs: tuple[str, str, str]) -> int:
    """Percent similar, normalised; or as written, when a typo hides a company suffix.

    Names whose numbers differ ("… Shipping 75" and "… Shipping 50", branches numbered in
    digits) are different companies however alike the rest: at most 50.
    """
    if ours[0] == theirs[0]:
        return 100
    score = int(max(ratio(ours[0], theirs[0]), ratio(ours[1], theirs[1])))
    return min(score, 50) if ours[2] != theirs[2] else score


def _name_confidence(score: int, cutoff: int, threshold: int) -> int:
    """92 at the cut-off up to 97 for the same name; below the cut-off never confirmed.

    The name is the last of three pieces of evidence (amount within the fee tolerance, date in
    the window, and the candidate being the best by a margin, which the caller checks).
    """
    if score < cutoff:
        return min(score, threshold - 1)
    return 92 + (score - cutoff) * 5 // max(100 - cutoff, 1)


def _assign_best_first(st: State, claims: list[tuple[int, list[_Candidate]]]) -> None:
    """Strongest claims first, so a weak line cannot take the item a better line names.

    A line whose two best items are about as good (within 5), or an item that two lines claim
    about as well, goes to the manual queue instead.
    """
    top: dict[int, list[int]] = {}
    for _, candidates in claims:
        top.setdefault(candidates[0][1], []).append(candidates[0][0])
    claims.sort(key=lambda claim: -claim[1][0][0])
    keep = st.config.max_suggestions
    for n, candidates in claims:
        best = candidates[0]
        rivals = sorted(top[best[1]], reverse=True)
        line_tie = len(candidates) > 1 and candidates[1][0] >= best[0] - 5
        item_tie = len(rivals) > 1 and rivals[1] >= rivals[0] - 5
        if not (line_tie or item_tie):
            if not st.offer(_found(st, n, best)):  # proposes the best itself
                for c in candidates[1:keep]:
                    st.propose(_found(st, n, c))
            continue
        why = "; another candidate as good" if line_tie else "; another line as good"
        for c in candidates[:keep]:
            st.propose(_found(st, n, c, cap=min(st.threshold - 1, 70), why=why))


def _found(st: State, n: int, candidate: _Candidate, cap: int = 100, why: str = "") -> Found:
    confidence, i, diff, days, score = candidate
    how = "same amount" if diff == 0 else f"fee {st.money(diff, n)} deducted"
    return Found((n,), (i,), (st.open[i],), Rule.FUZZY_NAME, min(confidence, cap),
                 f"{how}, {days_text(days)}, name {score}% similar{why}", -diff)
