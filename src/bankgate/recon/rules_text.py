"""The rules that read text: remittance references, fuzzy names, several lines to one item."""

from __future__ import annotations

from rapidfuzz import fuzz

from bankgate.domain.recon import Rule
from bankgate.recon.rules_ids import _offer_best
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import normalise_name, reference_keys, remittance_keys

__all__ = ["fuzzy_name", "many_to_one", "reference"]


def _reference_index(st: State) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for i, refs in enumerate(st.items.references):
        if refs and st.item_free[i]:
            for ref in refs:
                for key in reference_keys(ref):
                    hits = index.setdefault(key, [])
                    if not hits or hits[-1] != i:
                        hits.append(i)
    return index


def _referenced(st: State, index: dict[str, list[int]], n: int) -> dict[int, str]:
    """Free items on the line's account named by a reference in its remittance, with the key."""
    text = st.lines.remittance[n]
    found: dict[int, str] = {}
    if not text:
        return found
    lines, items = st.lines, st.items
    for key in remittance_keys(text):
        for i in index.get(key, ()):
            if (st.item_free[i] and items.account[i] == lines.account[n]
                    and items.currency[i] == lines.currency[n]
                    and (st.open[i] > 0) == (lines.amount[n] > 0)):
                found.setdefault(i, _shown_reference(items.references[i], key))
    return found


def _shown_reference(refs: tuple[str, ...], key: str) -> str:
    """The item's own spelling of the reference that matched."""
    return next((ref for ref in refs if key in reference_keys(ref)), key)


def reference(st: State) -> None:
    """An invoice or order number in the remittance names the item; amounts agree (or a fee)."""
    index = _reference_index(st)
    if not index:
        return
    for n in range(len(st.lines)):
        if st.line_free[n] and st.lines.remittance[n]:
            hits = _referenced(st, index, n)
            _offer_best(st, [f for f in (_reference_found(st, n, i, ref)
                                         for i, ref in hits.items()) if f])


def _reference_found(st: State, n: int, i: int, ref: str) -> Found | None:
    amount, open_ = st.lines.amount[n], st.open[i]
    diff = open_ - amount
    days = abs(st.lines.day[n] - st.items.day[i])
    late = 0 if days <= st.config.date_window_days else 10
    when = days_text(days) if not late else f"{days} days from the expected date"
    if diff == 0:
        return Found((n,), (i,), (open_,), Rule.REFERENCE, 97 - late,
                     f"reference {ref} in the remittance, same amount, {when}")
    if 0 < diff <= st.config.fee_tolerance(open_):
        return Found((n,), (i,), (open_,), Rule.REFERENCE, 93 - late,
                     f"reference {ref} in the remittance, fee {st.money(diff, n)} deducted, "
                     f"{when}", -diff)
    return None  # partial or too much: many_to_one looks at it with the item's other lines


def fuzzy_name(st: State) -> None:
    """A similar counterparty name, the amount less at most the fee tolerance, date in window."""
    items, config = st.items, st.config
    width = config.fee_tolerance_minor + 1
    index: dict[tuple[str, str, int], list[int]] = {}
    for i, name in enumerate(items.counterparty_name):
        if name and st.item_free[i]:
            index.setdefault((items.account[i], items.currency[i], st.open[i] // width),
                             []).append(i)
    if not index:
        return
    lines = st.lines
    for n, name in enumerate(lines.counterparty_name):
        if not name or not st.line_free[n]:
            continue
        amount = lines.amount[n]
        tolerance = config.fee_tolerance(amount)
        near: list[int] = []
        for bucket in range(amount // width, (amount + tolerance) // width + 1):
            near.extend(index.get((lines.account[n], lines.currency[n], bucket), ()))
        if near:
            _fuzzy_offer(st, n, normalise_name(name), amount, tolerance, near)


def _fuzzy_offer(st: State, n: int, name: str, amount: int, tolerance: int,
                 near: list[int]) -> None:
    candidates = []
    cutoff = st.config.name_similarity_cutoff
    for i in near:
        open_ = st.open[i]
        diff = open_ - amount
        if not st.item_free[i] or not 0 <= diff <= tolerance or (open_ > 0) != (amount > 0):
            continue
        days = st.within(n, i)
        other = st.items.counterparty_name[i]
        if days is None or other is None:
            continue
        score = int(fuzz.ratio(name, normalise_name(other)))
        confidence = _name_confidence(score, cutoff, st.threshold) - (1 if diff else 0) - max(
            days - 1, 0)
        how = "same amount" if diff == 0 else f"fee {st.money(diff, n)} deducted"
        candidates.append(Found((n,), (i,), (open_,), Rule.FUZZY_NAME, max(confidence, 0),
                                f"{how}, {days_text(days)}, name {score}% similar", -diff))
    _offer_best(st, candidates)


def _name_confidence(score: int, cutoff: int, threshold: int) -> int:
    """92 at the cut-off up to 97 for the same name; below the cut-off never confirmed.

    The name is the last of three pieces of evidence (amount within the fee tolerance, date in
    the window, and the candidate being the best by a margin, which `_offer_best` checks).
    """
    if score < cutoff:
        return min(score, threshold - 1)
    return 92 + (score - cutoff) * 5 // max(100 - cutoff, 1)


def many_to_one(st: State) -> None:
    """Several lines naming one item pay it together, or one line pays part of it."""
    index = _reference_index(st)
    if not index:
        return
    groups: dict[int, list[int]] = {}
    shown: dict[int, str] = {}
    for n in range(len(st.lines)):
        if st.line_free[n] and st.lines.remittance[n]:
            hits = _referenced(st, index, n)
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
    days = max(abs(st.lines.day[n] - st.items.day[i]) for n in members)
    count = f"{len(members)} lines name {ref}" if len(members) > 1 else f"the line names {ref}"
    first = members[0]
    lines = tuple(members)
    if diff == 0:
        st.offer(Found(lines, (i,), (open_,), Rule.MANY_TO_ONE, 93 - min(days, 5),
                       f"{count} and together pay the open amount, {days_text(days)}"))
    elif 0 < diff <= st.config.fee_tolerance(open_):
        st.offer(Found(lines, (i,), (open_,), Rule.MANY_TO_ONE, 91 - min(days, 5),
                       f"{count}, together the open amount less a fee of "
                       f"{st.money(diff, first)}, {days_text(days)}", -diff))
    elif abs(total) < abs(open_):
        st.offer(Found(lines, (i,), (total,), Rule.MANY_TO_ONE, 90 - min(days, 5),
                       f"{count}: partial payment {st.money(total, first)} of "
                       f"{st.money(open_, first)}, {st.money(diff, first)} stays open, "
                       f"{days_text(days)}"))
    else:
        for n in members:
            st.propose(Found((n,), (i,), (st.lines.amount[n],), Rule.MANY_TO_ONE, 60,
                             f"names {ref}, but the lines naming it pay more than is open"))
