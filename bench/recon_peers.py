"""The matchers bench/recon.py runs beside bankgate's: a plain-Python prototype, pandas passes,
and a nested-loop matcher. Each takes the generated columns and returns (line, item) pairs.

They are written the way such matchers are usually first written, for comparison only; none of
them explains, ranks or queues anything, and none handles fees, references, batches or splits.
"""

from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz, process

from bankgate.recon.columns import ItemColumns, LineColumns

WINDOW = 3  # days, as MatchConfig's default


def prototype(lines: LineColumns, items: ItemColumns) -> set[tuple[int, int]]:
    """Exact end-to-end id, then (account, amount) buckets with a date window, rapidfuzz
    names (WRatio, extractOne) to choose among several candidates."""
    pairs: set[tuple[int, int]] = set()
    taken_items: set[int] = set()
    taken_lines: set[int] = set()
    by_id = {e: i for i, e in enumerate(items.end_to_end_id) if e}
    for n, e in enumerate(lines.end_to_end_id):
        i = by_id.get(e) if e else None
        if (i is not None and lines.booked[n] and i not in taken_items
                and items.amount[i] == lines.amount[n] and items.account[i] == lines.account[n]):
            pairs.add((n, i))
            taken_items.add(i)
            taken_lines.add(n)
    buckets: dict[tuple[str, int], list[int]] = {}
    for i in range(len(items)):
        if i not in taken_items:
            buckets.setdefault((items.account[i], items.amount[i]), []).append(i)
    for n in range(len(lines)):
        if n in taken_lines or not lines.booked[n]:
            continue
        near = [i for i in buckets.get((lines.account[n], lines.amount[n]), ())
                if i not in taken_items and abs(items.day[i] - lines.day[n]) <= WINDOW]
        if len(near) > 1 and lines.counterparty_name[n]:
            names = {i: items.counterparty_name[i] or "" for i in near}
            best = process.extractOne(lines.counterparty_name[n], names, score_cutoff=85)
            near = [best[2]] if best else []
        if len(near) == 1:
            pairs.add((n, near[0]))
            taken_items.add(near[0])
    return pairs


def pandas_passes(lines: LineColumns, items: ItemColumns) -> tuple[set[tuple[int, int]],
                                                                  dict[str, float]]:
    """The exact and bucket passes as pandas merges; returns pairs and the phase times."""
    import time

    import pandas as pd

    started = time.perf_counter()
    ldf = pd.DataFrame({"n": range(len(lines)), "account": lines.account,
                        "amount": lines.amount, "day": lines.day, "booked": lines.booked,
                        "e2e": lines.end_to_end_id})
    idf = pd.DataFrame({"i": range(len(items)), "account": items.account,
                        "amount": items.amount, "day": items.day, "e2e": items.end_to_end_id})
    ldf = ldf[ldf["booked"]]
    built = time.perf_counter()
    exact = ldf.dropna(subset=["e2e"]).merge(idf.dropna(subset=["e2e"]),
                                             on=["e2e", "account", "amount"])
    exact = exact.drop_duplicates("n", keep=False).drop_duplicates("i", keep=False)
    rest_l = ldf[~ldf["n"].isin(exact["n"])]
    rest_i = idf[~idf["i"].isin(exact["i"])]
    bucket = rest_l.merge(rest_i, on=["account", "amount"], suffixes=("_l", "_i"))
    bucket = bucket[(bucket["day_l"] - bucket["day_i"]).abs() <= WINDOW]
    bucket = bucket.drop_duplicates("n", keep=False).drop_duplicates("i", keep=False)
    done = time.perf_counter()
    pairs = set(zip(exact["n"].tolist(), exact["i"].tolist(), strict=True))
    pairs |= set(zip(bucket["n"].tolist(), bucket["i"].tolist(), strict=True))
    return pairs, {"frames_s": built - started, "passes_s": done - built}


def nested_loop(lines: LineColumns, items: ItemColumns, rows: range) -> set[tuple[int, int]]:
    """For each line, every open item is scored (id, amount, date, name): the reconcile screen
    of many ERPs. Run on a slice of lines only."""
    pairs: set[tuple[int, int]] = set()
    taken: set[int] = set()
    for n in rows:
        best: tuple[float, int] | None = None
        for i in range(len(items)):
            if i in taken or items.account[i] != lines.account[n]:
                continue
            score = _score(lines, items, n, i)
            if score >= 90 and (best is None or score > best[0]):
                best = (score, i)
        if best is not None:
            pairs.add((n, best[1]))
            taken.add(best[1])
    return pairs


def _score(lines: LineColumns, items: ItemColumns, n: int, i: int) -> float:
    if lines.end_to_end_id[n] and lines.end_to_end_id[n] == items.end_to_end_id[i]:
        return 100.0
    if lines.amount[n] != items.amount[i] or abs(lines.day[n] - items.day[i]) > WINDOW:
        return 0.0
    name: Any = fuzz.WRatio(lines.counterparty_name[n] or "", items.counterparty_name[i] or "")
    return 60.0 + name * 0.4
