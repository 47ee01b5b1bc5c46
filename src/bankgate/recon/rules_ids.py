"""The rules that rest on identifiers and exact amounts: ids, batches, amount + account."""

from __future__ import annotations

from bankgate.domain.recon import Rule
from bankgate.recon.state import Found, State, days_text
from bankgate.recon.text import normalise_account

__all__ = ["amount_account", "batch", "exact_id"]


def _id_index(st: State) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Each id → its item; ids that several items carry (a payment and its return) → all."""
    unique: dict[str, int] = {}
    shared: dict[str, list[int]] = {}
    for column in (st.items.end_to_end_id, st.items.instruction_id):
        for i, key in enumerate(column):
            if key:
                first = unique.setdefault(key, i)
                if first != i:
                    shared.setdefault(key, [first]).append(i)
    return unique, shared


def exact_id(st: State) -> None:
    """The bank echoes our end-to-end or instruction id: 100 when the amount agrees too.

    The loop is the hot path of a million-line run: the common case (one item carries the id,
    same account and amount) is decided inline; everything else goes through `_by_ids`.
    """
    unique, shared = _id_index(st)
    if not unique:
        return
    lines, items = st.lines, st.items
    free, item_free, open_ = st.line_free, st.item_free, st.open
    amounts, accounts, codes = lines.amount, lines.account, lines.currency
    item_accounts, item_codes = items.account, items.currency
    for n, e2e in enumerate(lines.end_to_end_id):
        if not e2e or not free[n]:
            continue
        i = unique.get(e2e)
        if (i is not None and item_free[i] and open_[i] == amounts[n] and e2e not in shared
                and item_accounts[i] == accounts[n] and item_codes[i] == codes[n]):
            st.take_one(n, i, amounts[n], Rule.EXACT_ID, 100,
                        f"end-to-end id {e2e} matches, same amount")
        else:
            _by_ids(st, n, unique, shared)
    for n, instr in enumerate(lines.instruction_id):
        if instr and free[n] and not lines.end_to_end_id[n]:
            _by_ids(st, n, unique, shared)


def _by_ids(st: State, n: int, unique: dict[str, int], shared: dict[str, list[int]]) -> None:
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
    """Same amount, same counterparty account, date within the window."""
    items, lines = st.items, st.lines
    index: dict[tuple[str, str, int, str], list[int]] = {}
    item_free, open_ = st.item_free, st.open
    for i, account in enumerate(items.counterparty_account):
        if account and item_free[i]:
            key = (items.account[i], items.currency[i], open_[i], normalise_account(account))
            index.setdefault(key, []).append(i)
    if not index:
        return
    window = st.config.date_window_days
    amounts, days, item_days = lines.amount, lines.day, items.day
    accounts = lines.counterparty_account
    for n in st.free_rows():
        account = accounts[n]
        if not account:
            continue
        amount = amounts[n]
        hits = index.get((lines.account[n], lines.currency[n], amount,
                          normalise_account(account)))
        if not hits:
            continue
        if len(hits) == 1:  # the common case, inline
            i = hits[0]
            apart = abs(days[n] - item_days[i])
            if item_free[i] and open_[i] == amount and apart <= window:
                st.take_one(n, i, amount, Rule.AMOUNT_ACCOUNT, 97 - apart, _ACCOUNT_TEXT[apart]
                            if apart < len(_ACCOUNT_TEXT) else
                            f"same amount, same counterparty account, {days_text(apart)}")
                continue
        st.offer_best([f for f in (_account_found(st, n, i) for i in hits) if f])


_ACCOUNT_TEXT = tuple(f"same amount, same counterparty account, {days_text(d)}" for d in range(8))


def _account_found(st: State, n: int, i: int) -> Found | None:
    if not st.item_free[i] or st.open[i] != st.lines.amount[n]:
        return None
    days = st.within(n, i)
    if days is None:
        return None
    return Found((n,), (i,), (st.open[i],), Rule.AMOUNT_ACCOUNT, 97 - days,
                 f"same amount, same counterparty account, {days_text(days)}")
