"""Reconciliation side by side (issue 6, bench/recon): time, peak memory, precision and recall.

Each matcher runs in its own process on the same seeded, labelled world
(`bankgate.recon.generate`): N statement lines against about as many open items. Measured per
run: wall and CPU seconds of the matching alone (the world is built before the clock starts,
in the shape the store keeps it: each entry's and item's reference keys were computed when it
was stored, so they are computed here outside the clock and their cost is printed apart as
`keys_at_import_cpu_s`),
peak RSS of the process and what the input alone took, the matcher's own peak allocations
(tracemalloc, in a second run, since tracing slows Python down), precision and recall of the
pairs against the truth.

    .venv/bin/pip install -e '.[bench]'      # pandas, for the pandas peer
    .venv/bin/python bench/recon.py --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("bankgate", "bankgate+objects", "prototype", "pandas", "nested")
# Not in the default set: bankgate's run with each rule's CPU seconds printed apart.
PER_RULE = "bankgate/rules"


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


Pairs = set[tuple[int, int]]


def _run(engine: str, world: Any, nested_rows: int) -> tuple[Pairs | Callable[[], Pairs],
                                                             dict[str, Any]]:
    """Run one matcher; its pairs (bankgate's: a function, so that building the set of pairs
    for scoring stays outside the clock)."""
    from bankgate.domain.recon import MatchConfig
    from bankgate.recon import match_columns, to_result

    extra: dict[str, Any] = {}
    if engine == PER_RULE:
        return _per_rule(world, extra)
    if engine in ("bankgate", "bankgate+objects"):
        st = match_columns(world.lines, world.items, MatchConfig())
        if engine == "bankgate+objects":
            extra["matches"] = len(to_result(st).matches)
        extra["suggested_lines"] = sum(1 for n in st.proposals if st.line_free[n])
        return st.pairs, extra
    import recon_peers as peers

    if engine == "prototype":
        return peers.prototype(world.lines, world.items), extra
    if engine == "pandas":
        pairs, phases = peers.pandas_passes(world.lines, world.items)
        return pairs, {k: round(v, 3) for k, v in phases.items()}
    rows = range(min(nested_rows, len(world.lines)))
    extra["slice_lines"] = len(rows)
    return peers.nested_loop(world.lines, world.items, rows), extra


def _per_rule(world: Any, extra: dict[str, Any]) -> tuple[Callable[[], Pairs],
                                                          dict[str, Any]]:
    """`match_columns` taken apart: the arrays, then each rule in order, each on the clock."""
    from bankgate.domain.recon import MatchConfig
    from bankgate.recon.engine import RULES, _collector_paused
    from bankgate.recon.state import State

    config = MatchConfig()
    spent: dict[str, float] = {}
    with _collector_paused():
        st = State(world.lines, world.items, config)
        cpu = time.process_time()
        st.arrays()
        spent["arrays"] = time.process_time() - cpu
        for rule in config.rules:
            cpu = time.process_time()
            RULES[rule](st)
            spent[rule.value] = time.process_time() - cpu
    extra["rules_cpu_s"] = {k: round(v, 3) for k, v in spent.items()}
    return st.pairs, extra


def one(engine: str, size: int, seed: int, trace: bool, nested_rows: int) -> dict[str, Any]:
    """Build the world, then time one matcher on it; in this process."""
    from bankgate.recon.generate import generate, stored_keys_of

    # The world as the store holds it: reference keys computed per entry and per item, as
    # import does (`stored_keys_of`); timed apart, so the price moved out of the run shows.
    world = generate(size, seed=seed, stored_keys=False)  # labels: two arrays until the peak
    import_cpu = time.process_time()
    world.lines, world.items = stored_keys_of(world.lines, world.items)
    import_cpu = time.process_time() - import_cpu
    if engine not in ("bankgate", "bankgate+objects", PER_RULE):
        import recon_peers  # noqa: F401  (and pandas below: imports stay outside the clock)
    if engine == "pandas":
        import pandas  # noqa: F401
    gc.collect()
    input_mb, peak_before = _rss_mb(), _peak_mb()
    if trace:
        tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    outcome, extra = _run(engine, world, nested_rows)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    run_peak = _peak_mb()  # before the pairs and the labels are built for scoring
    pairs = outcome() if callable(outcome) else outcome
    out: dict[str, Any] = {"engine": engine, "lines": len(world.lines),
                           "items": len(world.items), **extra,
                           "keys_at_import_cpu_s": round(import_cpu, 2),
                           "keys_us_per_row": round(import_cpu * 1e6 / (len(world.lines)
                                                                        + len(world.items)), 2)}
    if trace:
        out["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        return out
    truth = world.truth
    if engine == "nested":
        rows = extra["slice_lines"]
        truth = {(n, i) for n, i in truth if n < rows}
        out["lines_per_s"] = round(rows / wall, 1)
        wall, cpu = wall * len(world.lines) / rows, cpu * len(world.lines) / rows
        out["extrapolated"] = True
    hits = len(pairs & truth)
    out.update(wall_s=round(wall, 2), cpu_s=round(cpu, 2), input_rss_mb=round(input_mb),
               peak_rss_mb=round(max(run_peak, peak_before)),
               precision=round(hits / len(pairs), 5) if pairs else None,
               recall=round(hits / len(truth), 5) if truth else None)
    return out


def in_subprocess(engine: str, size: int, args: argparse.Namespace, trace: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT / 'src'}"}
    command = [sys.executable, __file__, "--one", engine, "--sizes", str(size),
               "--seed", str(args.seed), "--nested-rows", str(args.nested_rows)]
    done = subprocess.run([*command, *(["--trace"] if trace else [])], env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        return {"engine": engine, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return dict(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"of {', '.join((*ENGINES, PER_RULE))}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nested-rows", type=int, default=30)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.one:
        print(json.dumps(one(args.one, sizes[0], args.seed, args.trace, args.nested_rows)))
        return
    results = []
    for size in sizes:
        for engine in args.engines.split(","):
            row = in_subprocess(engine, size, args, trace=False)
            if not args.no_trace and engine in ("bankgate", "prototype") and "error" not in row:
                row.update(traced_peak_mb=in_subprocess(engine, size, args, trace=True)
                           .get("traced_peak_mb"))
            print(json.dumps(row), flush=True)
            results.append(row)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"recon-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()
