"""The rules that read text: remittance references, fuzzy names, several lines to one item."""

from __future__ import annotations

from collections.abc import Iterator

from rapidfuzz import fuzz

from bankgate.domain.recon import Rule
from bankgate.recon.rules_ids import _offer_best
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import digits, folded, normalise_name, reference_keys, remittance_keys

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
    """An invoice or order number in the remittance names the item; amounts agree (or a fee).

    An item named by several lines is left to `many_to_one`: one of them alone may look like
    the item less a fee when it is in fact one part of a split payment.
    """
    index = _reference_index(st)
    if not index:
        return
    claims: dict[int, list[tuple[int, str]]] = {}
    for n, hits in _naming_lines(st, index):
        if len(hits) == 1:
            ((i, ref),) = hits.items()
            claims.setdefault(i, []).append((n, ref))
        else:
            _offer_best(st, [f for f in (_reference_found(st, n, i, ref)
                                         for i, ref in hits.items()) if f])
    for i, named_by in claims.items():
        if len(named_by) == 1 and st.item_free[i]:
            ((n, ref),) = named_by
            found = _reference_found(st, n, i, ref)
            if found:
                st.offer(found)


def _naming_lines(st: State, index: dict[str, list[int]]) -> Iterator[tuple[int, dict[int, str]]]:
    """Each free line with a remittance, and the free items it names."""
    remittance, free = st.lines.remittance, st.line_free
    for n, text in enumerate(remittance):
        if text and free[n]:
            hits = _referenced(st, index, n)
            if hits:
                yield n, hits


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
    claims: list[list[Found]] = []
    for n, name in enumerate(lines.counterparty_name):
        if not name or not st.line_free[n]:
            continue
        amount = lines.amount[n]
        tolerance = config.fee_tolerance(amount)
        near: list[int] = []
        for bucket in range(amount // width, (amount + tolerance) // width + 1):
            near.extend(index.get((lines.account[n], lines.currency[n], bucket), ()))
        if near:
            candidates = _fuzzy_candidates(st, n, name, amount, tolerance, near)
            if candidates:
                claims.append(candidates)
    _assign_best_first(st, claims)


def _fuzzy_candidates(st: State, n: int, name: str, amount: int, tolerance: int,
                      near: list[int]) -> list[Found]:
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
        score = _similarity(name, other)
        confidence = (_name_confidence(score, cutoff, st.threshold) - (1 if diff else 0)
                      - (1 if days > 1 else 0))
        how = "same amount" if diff == 0 else f"fee {st.money(diff, n)} deducted"
        candidates.append(Found((n,), (i,), (open_,), Rule.FUZZY_NAME, max(confidence, 0),
                                f"{how}, {days_text(days)}, name {score}% similar", -diff))
    candidates.sort(key=lambda f: -f.confidence)
    return candidates


def _assign_best_first(st: State, claims: list[list[Found]]) -> None:
    """Strongest claims first, so a weak line cannot take the item a better line names.

    Two lines claiming one item about equally well (within 5) both go to the manual queue.
    """
    top: dict[int, list[int]] = {}
    for candidates in claims:
        top.setdefault(candidates[0].items[0], []).append(candidates[0].confidence)
    claims.sort(key=lambda c: -c[0].confidence)
    for candidates in claims:
        rivals = sorted(top[candidates[0].items[0]], reverse=True)
        if len(rivals) > 1 and rivals[1] >= rivals[0] - 5:
            for c in candidates[: st.config.max_suggestions]:
                st.propose(c._replace(confidence=min(c.confidence, st.threshold - 1, 70),
                                      explanation=c.explanation + "; another line as good"))
            continue
        _offer_best(st, candidates)


def _similarity(ours: str, theirs: str) -> int:
    """Percent similar, normalised; or as written, when a typo hides a company suffix.

    Names whose numbers differ ("… Shipping 75" and "… Shipping 50", 第一 / 第二 branches
    written in digits) are different companies however alike the rest: at most 50.
    """
    a, b = normalise_name(ours), normalise_name(theirs)
    score = int(max(fuzz.ratio(a, b), fuzz.ratio(folded(ours), folded(theirs))))
    return min(score, 50) if digits(a) != digits(b) else score


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
    for n, hits in _naming_lines(st, index):
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
    late = 0 if days <= st.config.date_window_days else 10
    when = days_text(days) if not late else f"{days} days from the expected date"
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
