"""Precision and recall of automatic matching on the labelled generated world (issue 6)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as gen

from bankgate.domain.recon import MatchConfig, Rule
from bankgate.recon import match, match_columns, to_result
from bankgate.recon.generate import Labelled, as_bank_lines, as_open_items, generate
from tests.recon.builders import assert_each_once


def _scores(world: Labelled, pairs: set[tuple[int, int]]) -> tuple[float, float]:
    hits = len(pairs & world.truth)
    return hits / len(pairs), hits / len(world.truth)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_automatic_matching_is_precise_and_finds_nearly_everything(seed: int) -> None:
    world = generate(20_000, seed=seed)
    st = match_columns(world.lines, world.items, MatchConfig())
    pairs = st.pairs()
    precision, recall = _scores(world, pairs)
    assert precision >= 0.999, f"precision {precision:.5f}"
    assert recall >= 0.995, f"recall {recall:.5f}"
    assert_each_once(to_result(st), len(world.lines), len(world.items))


def test_every_rule_does_part_of_the_work_on_the_generated_world() -> None:
    world = generate(20_000, seed=4)
    st = match_columns(world.lines, world.items, MatchConfig())
    used = Counter(f.rule for f, _ in st.matches())
    assert set(used) == set(Rule), used
    assert all(f.confidence >= 90 for f, _ in st.matches())


def test_the_dataclass_api_agrees_with_the_columns() -> None:
    world = generate(3_000, seed=5)
    lines, items = as_bank_lines(world.lines), as_open_items(world.items, world.kinds)
    result = match(lines, items)
    by_columns = to_result(match_columns(world.lines, world.items, MatchConfig()))
    assert result == by_columns
    assert_each_once(result, len(lines), len(items))


def test_keys_stored_at_import_give_the_result_of_keys_extracted_by_the_run() -> None:
    """The generated world in the store's shape (reference keys kept per entry and item)
    matches exactly as the same world without them, where the run extracts them; and a
    column with some rows not stored (before migration 0015_recon_keys) as well."""
    stored = generate(20_000, seed=7)
    bare = generate(20_000, seed=7, stored_keys=False)
    assert stored.lines.remittance_keys is not None and bare.lines.remittance_keys is None
    assert any(stored.lines.remittance_keys) and any(stored.items.reference_keys or ())
    expected = to_result(match_columns(bare.lines, bare.items, MatchConfig()))
    assert to_result(match_columns(stored.lines, stored.items, MatchConfig())) == expected
    line_keys, item_keys = list(stored.lines.remittance_keys), list(stored.items.reference_keys
                                                                    or ())
    line_keys[::3] = [None] * len(line_keys[::3])
    item_keys[::3] = [None] * len(item_keys[::3])
    mixed = (replace(stored.lines, remittance_keys=line_keys),
             replace(stored.items, reference_keys=item_keys))
    assert to_result(match_columns(*mixed, MatchConfig())) == expected


def test_intraday_lines_stay_out_and_unrelated_lines_stay_unmatched() -> None:
    world = generate(20_000, seed=6)
    result = to_result(match_columns(world.lines, world.items, MatchConfig()))
    pending = {n for n, booked in enumerate(world.lines.booked) if not booked}
    assert pending and {world.lines.id[n] for n in pending} == set(result.pending_line_ids)
    paying = {n for n, _ in world.truth}
    unrelated = {world.lines.id[n] for n in range(len(world.lines))
                 if n not in paying and n not in pending}
    assert unrelated and unrelated <= set(result.unmatched_line_ids)


def test_a_stricter_threshold_trades_recall_for_the_queue() -> None:
    world = generate(5_000, seed=7)
    loose = to_result(match_columns(world.lines, world.items, MatchConfig()))
    strict = to_result(match_columns(world.lines, world.items,
                                     MatchConfig(auto_confirm_threshold=97)))
    assert len(strict.matches) < len(loose.matches)
    assert len(strict.suggestions) > len(loose.suggestions)
    assert_each_once(strict, len(world.lines), len(world.items))


@settings(max_examples=25, deadline=None)
@given(seed=gen.integers(0, 10_000), size=gen.integers(20, 400),
       rules=gen.permutations(list(Rule)).flatmap(
           lambda order: gen.integers(1, len(order)).map(lambda k: tuple(order[:k]))),
       threshold=gen.integers(1, 100), window=gen.integers(0, 5))
def test_no_line_or_item_is_matched_twice_whatever_the_rules_order_and_settings(
        seed: int, size: int, rules: tuple[Rule, ...], threshold: int, window: int) -> None:
    world = generate(size, seed=seed)
    config = MatchConfig(rules=rules, auto_confirm_threshold=threshold,
                         date_window_days=window)
    result = to_result(match_columns(world.lines, world.items, config))
    assert_each_once(result, len(world.lines), len(world.items))
    assert all(m.confidence >= threshold and m.auto_confirmed for m in result.matches)
    for s in result.suggestions:
        ranks = [c.confidence for c in s.candidates]
        assert ranks == sorted(ranks, reverse=True) and len(ranks) <= config.max_suggestions
