"""Where a camt entry's CPU time goes: each stage of the streaming reader alone (issue 4).

Runs on one generated camt.053 file (bench/formats.py's generator) in this process, best of
`--runs` per stage, and prints CPU microseconds per entry (`time.process_time`, not wall
time: the machine's cores are shared). Each stage includes the ones above it, so the
differences are what a stage adds:

    .venv/bin/python bench/camt_floor.py --entries 100000 --runs 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path

from lxml import etree

from bankgate.domain import (
    EntryDetail,
    EntryKey,
    EntryStatus,
    Money,
    Source,
    StatementEntry,
    currency,
)
from bankgate.formats.iso20022.camt import CAMT_TAGS, _census, _free_entry, _is_entry, stream_camt
from bankgate.formats.iso20022.camt_census import scan_repeated_references
from bankgate.formats.iso20022.camt_entries import Converter
from bankgate.formats.iso20022.camt_fields import ENTRY_PLAN
from bankgate.formats.speedups import COMPILED, pull_values, python_pull_values
from bankgate.formats.stream import Occurrences
from bankgate.formats.xml import iter_elements
from formats import generate_camt053, run_bare_lxml

_NS = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}"


def _entries(path: Path) -> Iterator[etree._Element]:
    with path.open("rb") as stream:
        for element in iter_elements(stream, path.name, CAMT_TAGS | {"Ntry"}, free=False):
            if _is_entry(str(element.tag)):
                yield element
                _free_entry(element)


def parse_only(path: Path) -> None:
    """libxml2 parsing, lxml's iterparse and freeing each entry: nothing read."""
    for _ in _entries(path):
        pass


def visit_every_element(path: Path) -> None:
    """The same, and every element of the entry touched once (tag and text) from C's iter()."""
    for entry in _entries(path):
        for element in entry.iter():
            _ = element.tag, element.text


def pull_fields(path: Path) -> None:
    """The same, and the reader's own walk: the text of every path it models (in C when
    built)."""
    href = _NS[1:-1].encode()
    for entry in _entries(path):
        pull_values(entry, ENTRY_PLAN, href)


def pull_fields_python(path: Path) -> None:
    """The same walk by its Python twin."""
    href = _NS[1:-1].encode()
    for entry in _entries(path):
        python_pull_values(entry, ENTRY_PLAN, href)


def convert(path: Path) -> None:
    """The same, and the domain values built (Money, dates, keys, StatementEntry, ...)."""
    converter, seen = Converter(_NS + "Stmt", path.name, "/Stmt[1]"), Occurrences()
    for n, entry in enumerate(_entries(path), 1):
        converter.entry(entry, n, seen)


def census(path: Path) -> None:
    """The lxml reference census alone (a second parse: where the raw-byte scan steps aside)."""
    with path.open("rb") as stream:
        _census(stream, path.name, 1)


def census_scan(path: Path) -> None:
    """The raw-byte census alone (what a statement over 10,000 entries gets first)."""
    with path.open("rb") as stream:
        assert scan_repeated_references(stream, 1) is not None


def stream(path: Path) -> None:
    """The whole streaming reader, as `bankgate import` uses it."""
    with path.open("rb") as source:
        for _ in stream_camt(source, path.name):
            pass


def bare_walk(path: Path) -> None:
    """bench/formats.py's bare walk: iterparse and five findtext calls per entry."""
    run_bare_lxml(path)


def construction_only(count: int) -> None:
    """Building one entry's domain values from ready Python values, nothing parsed."""
    eur = currency("EUR")
    money = Money(Decimal("1.00"), eur)
    for n in range(count):
        detail = EntryDetail(amount=money, end_to_end_id="E2E", transaction_id="TX",
                             counterparty_name="Kunde GmbH", counterparty_account="NL91",
                             remittance="Rechnung")
        StatementEntry(key=EntryKey("bank_reference", "ASR"), amount=money,
                       status=EntryStatus.BOOKED, booking_date=None, value_date=None,
                       bank_reference="ASR", end_to_end_id="E2E", counterparty_name="Kunde",
                       counterparty_account="NL91", remittance="Rechnung",
                       source=Source(origin="bench.xml", where=f"/Stmt[1]/Ntry[{n}]"),
                       account_servicer_reference="ASR", bank_transaction_code="PMNT",
                       transactions=(detail,))


def _best_us(work: Callable[[], None], entries: int, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / entries * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bankgate-floor-") as tmp:
        path = Path(tmp) / "camt053.xml"
        generate_camt053(args.entries, path)
        stages: list[tuple[str, Callable[[], None]]] = [
            (f.__name__, partial(f, path)) for f in (
                parse_only, visit_every_element, pull_fields, pull_fields_python, convert,
                census, census_scan, stream, bare_walk)]
        stages.append(("construction_only", partial(construction_only, args.entries)))
        print(f"the C half is {'built' if COMPILED else 'not built'}")
        for name, work in stages:
            print(f"{name:22s} {_best_us(work, args.entries, args.runs):6.1f} µs CPU an entry",
                  flush=True)


if __name__ == "__main__":
    main()
