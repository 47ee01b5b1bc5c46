"""The rules that read references in the remittance: one line to one item, several to one."""

from __future__ import annotations

import re

from bankgate.domain.recon import Rule
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import reference_keys, remittance_keys

__all__ = ["many_to_one", "reference"]

_HAS_DIGIT = re.compile(r"\d").search  # "货款", "往来款": most remittances name no number
Named = dict[int, dict[int, str]]  # line → {item it names: the item's spelling of the reference}


def _reference_index(st: State) -> dict[str, list[tuple[int, str]]]:
    """Each reference key → the free items carrying it, with their spelling of it."""
    index: dict[str, list[tuple[int, str]]] = {}
    references = st.items.references
    for i in st.free_items():
        refs = references[i]
        if refs:
            for ref in refs:
                for key in reference_keys(ref):
                    hits = index.setdefault(key, [])
                    if not hits or hits[-1][0] != i:
                        hits.append((i, ref))
    return index


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
        lines, items = st.lines, st.items
        amounts, open_, item_free = lines.amount, st.open, st.item_free
        remittance = lines.remittance
        for n in st.free_rows():
            text = remittance[n]
            if not text or not _HAS_DIGIT(text):
                continue
            account, code, credit = lines.account[n], lines.currency[n], amounts[n] > 0
            hits: dict[int, str] = {}
            for key in remittance_keys(text):
                for i, ref in index.get(key, ()):
                    if (item_free[i] and items.account[i] == account
                            and items.currency[i] == code and (open_[i] > 0) == credit):
                        hits.setdefault(i, ref)
            if hits:
                named[n] = hits
    st.named = named
    return named


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
    the item less a fee when it is in fact one part of a split payment.
    """
    claims: dict[int, list[tuple[int, str]]] = {}
    for n, hits in _still_named(st):
        if len(hits) == 1:
            ((i, ref),) = hits.items()
            claims.setdefault(i, []).append((n, ref))
        else:
            st.offer_best([f for f in (_reference_found(st, n, i, ref)
                                         for i, ref in hits.items()) if f])
    for i, named_by in claims.items():
        if len(named_by) == 1 and st.item_free[i]:
            ((n, ref),) = named_by
            found = _reference_found(st, n, i, ref)
            if found:
                st.offer(found)


def _when(st: State, days: int) -> tuple[int, str]:
    """A penalty and the words for the distance from the expected date."""
    if days <= st.config.date_window_days:
        return 0, days_text(days)
    return 10, f"{days} days from the expected date"


def _reference_found(st: State, n: int, i: int, ref: str) -> Found | None:
    amount, open_ = st.lines.amount[n], st.open[i]
    diff = open_ - amount
    late, when = _when(st, abs(st.lines.day[n] - st.items.day[i]))
    if diff == 0:
        return Found((n,), (i,), (open_,), Rule.REFERENCE, 97 - late,
                     f"reference {ref} in the remittance, same amount, {when}")
    if 0 < diff <= st.config.fee_tolerance(open_):
        return Found((n,), (i,), (open_,), Rule.REFERENCE, 93 - late,
                     f"reference {ref} in the remittance, fee {st.money(diff, n)} deducted, "
                     f"{when}", -diff)
    return None  # partial or too much: many_to_one looks at it with the item's other lines


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
