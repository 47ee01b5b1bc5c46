"""The rules that rest on identifiers and exact amounts: ids, batches, amount + account."""

from __future__ import annotations

from bankgate.domain.recon import Rule
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import normalise_account

__all__ = ["amount_account", "batch", "exact_id"]


def _id_index(st: State) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    items = st.items
    for i, (e2e, instr) in enumerate(zip(items.end_to_end_id, items.instruction_id,
                                         strict=True)):
        if e2e:
            index.setdefault(e2e, []).append(i)
        if instr and instr != e2e:
            index.setdefault(instr, []).append(i)
    return index


def exact_id(st: State) -> None:
    """The bank echoes our end-to-end or instruction id: 100 when the amount agrees too."""
    index = _id_index(st)
    if not index:
        return
    lines = st.lines
    free = st.line_free
    for n, (e2e, instr) in enumerate(zip(lines.end_to_end_id, lines.instruction_id,
                                         strict=True)):
        if not free[n] or not (e2e or instr):
            continue
        seen: dict[int, str] = {}
        for key in (e2e, instr):
            if key:
                for i in index.get(key, ()):
                    seen.setdefault(i, key)
        candidates = [_by_id(st, n, i, key) for i, key in seen.items()]
        _offer_best(st, [c for c in candidates if c is not None])


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


def _offer_best(st: State, candidates: list[Found]) -> None:
    """Offer the best candidate; a tie for first place goes to the manual queue."""
    if not candidates:
        return
    candidates.sort(key=lambda f: -f.confidence)
    best = candidates[0]
    if len(candidates) > 1 and candidates[1].confidence >= best.confidence - 5:
        for c in candidates[: st.config.max_suggestions]:
            st.propose(c._replace(confidence=min(c.confidence, st.threshold - 1, 70),
                                  explanation=c.explanation + "; another candidate as good"))
        return
    st.offer(best)
    for c in candidates[1:]:
        st.propose(c)


def batch(st: State) -> None:
    """One debit equals the sum of a batch's open items (the bank booked the batch as one)."""
    items = st.items
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, batch_id in enumerate(items.batch_id):
        if batch_id and st.item_free[i] and st.open[i] == items.amount[i]:
            groups.setdefault((items.account[i], items.currency[i], batch_id), []).append(i)
    by_sum: dict[tuple[str, str, int], list[tuple[str, list[int]]]] = {}
    for (account, code, batch_id), members in groups.items():
        if len(members) > 1:
            total = sum(st.open[i] for i in members)
            by_sum.setdefault((account, code, total), []).append((batch_id, members))
    if not by_sum:
        return
    lines = st.lines
    for n, amount in enumerate(lines.amount):
        if not st.line_free[n]:
            continue
        hits = by_sum.get((lines.account[n], lines.currency[n], amount))
        if hits:
            _offer_best(st, [f for f in (_batch_found(st, n, b, m) for b, m in hits) if f])


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
    """Same amount, same counterparty account, date within the window."""
    items = st.items
    index: dict[tuple[str, str, int, str], list[int]] = {}
    for i, account in enumerate(items.counterparty_account):
        if account and st.item_free[i]:
            key = (items.account[i], items.currency[i], st.open[i], normalise_account(account))
            index.setdefault(key, []).append(i)
    if not index:
        return
    lines = st.lines
    for n, account in enumerate(lines.counterparty_account):
        if not account or not st.line_free[n]:
            continue
        key = (lines.account[n], lines.currency[n], lines.amount[n], normalise_account(account))
        hits = index.get(key)
        if hits:
            _offer_best(st, [f for f in (_account_found(st, n, i) for i in hits) if f])


def _account_found(st: State, n: int, i: int) -> Found | None:
    if not st.item_free[i] or st.open[i] != st.lines.amount[n]:
        return None
    days = st.within(n, i)
    if days is None:
        return None
    return Found((n,), (i,), (st.open[i],), Rule.AMOUNT_ACCOUNT, 97 - days,
                 f"same amount, same counterparty account, {days_text(days)}")
