"""The statement stream (L-06): same entries as the whole-statement reader, bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from bankgate.domain import StatementEntry, check_statement
from bankgate.errors import FormatError
from bankgate.formats.iso20022.camt import read_camt, stream_camt
from bankgate.formats.stream import (
    Occurrences,
    StatementCheck,
    StatementEnd,
    StatementStart,
    collect,
)
from tests.formats.camt_files import entry, write_camt053
from tests.samples import SAMPLES

ROOT = Path(__file__).resolve().parents[2]


def _tricky(n: int) -> tuple[str, int] | None:
    """Repeated references far apart, reference-less twins, a UETR-only entry."""
    if n in (3, 140, 141):
        return entry(n, ref="SAME-REF", cents=500, name="Twin AG")  # 140, 141 identical
    if n in (10, 11, 130):
        return entry(0, ref=None, cents=700, name="No Ref GmbH")  # three identical twins
    if n == 20:
        return entry(n, ref=None, uetr="eb6305c9-1f7f-49de-aed0-16487c27b42d")
    return None


def _entries(events):
    return [e for e in events if isinstance(e, StatementEntry)]


def test_streaming_past_the_buffer_gives_the_same_entries_and_keys_as_the_whole_reader(
        tmp_path):
    """A statement longer than the buffer is counted first, then streamed: same identity."""
    path = tmp_path / "tricky.xml"
    write_camt053(path, 200, _tricky)
    with path.open("rb") as stream:
        [whole] = read_camt(stream, path.name)
    with path.open("rb") as stream:
        streamed = list(stream_camt(stream, path.name, buffer=50))
    assert _entries(streamed) == list(whole.entries)
    kinds = [e.key.kind for e in whole.entries]
    assert kinds[3] == kinds[140] == kinds[141] == "composite"  # the repeated reference
    assert len({whole.entries[i].key for i in (3, 140, 141, 10, 11, 130)}) == 6
    assert kinds[20] == "uetr" and kinds[0] == "bank_reference"
    assert isinstance(streamed[0], StatementStart) and isinstance(streamed[-1], StatementEnd)
    assert streamed[-1].entries == 200


def test_a_stream_that_cannot_seek_holds_the_statement_and_still_agrees(tmp_path):
    path = tmp_path / "tricky.xml"
    write_camt053(path, 200, _tricky)

    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            chunk = self._data.read(len(buffer))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    streamed = list(stream_camt(OneWay(path.read_bytes()), path.name, buffer=50))
    [whole] = read_camt(io.BytesIO(path.read_bytes()), path.name)
    assert _entries(streamed) == list(whole.entries)


def test_collect_rebuilds_whole_statements_from_the_events(tmp_path):
    path = tmp_path / "small.xml"
    write_camt053(path, 30)
    with path.open("rb") as stream:
        [statement] = collect(stream_camt(stream, path.name, buffer=10))
    assert len(statement.entries) == 30 and statement.closing is not None


@pytest.mark.parametrize("compiled", [True, False], ids=["C table", "Python arrays"])
def test_occurrences_count_the_same_once_spilled_to_fingerprints(compiled):
    exact, spilled = Occurrences(exact=10**9), Occurrences(exact=5, compiled=compiled)
    keys = [("a", n % 7, None) for n in range(200)] + [(n,) for n in range(50)]
    assert [exact.add(k) for k in keys] == [spilled.add(k) for k in keys]


@pytest.mark.parametrize("compiled", [True, False], ids=["C table", "Python arrays"])
def test_occurrences_keep_counting_as_the_fingerprint_table_grows(compiled):
    counts = Occurrences(exact=10, compiled=compiled)
    keys = [f"ref-{n % 70_000}" for n in range(140_000)]  # 70k distinct: the table doubles
    assert [counts.add(k) for k in keys] == [1] * 70_000 + [2] * 70_000


def test_the_stream_checks_find_what_check_statement_finds():
    files = sorted(p for folder in ("camt052", "camt053", "camt054")
                   for p in (SAMPLES / folder).glob("*.xml"))
    if not files:
        pytest.skip("shared/samples is not here")
    checked = 0
    for path in files:
        try:
            with path.open("rb") as stream:
                statements = list(read_camt(stream, path.name))
        except FormatError:  # the refused samples are test_camt's business
            continue
        for statement in statements:
            check = StatementCheck(statement)
            for e in statement.entries:
                check.entry(e)
            assert check.finish(statement) == check_statement(statement), path.name
            checked += 1
    assert checked > 30


def test_a_statement_that_does_not_add_up_is_reported_by_the_stream_check(tmp_path):
    path = tmp_path / "off.xml"
    write_camt053(path, 40, closing_delta=1)
    with path.open("rb") as stream:
        events = list(stream_camt(stream, path.name, buffer=10))
    check = StatementCheck(events[0].header)
    for e in _entries(events):
        check.entry(e)
    [issue] = check.finish(events[-1].header)
    assert "but the closing balance is" in issue.message


def _traced_peak_mb(read) -> float:
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_streaming_holds_a_buffer_where_the_whole_reader_holds_the_statement(tmp_path):
    """tracemalloc peaks: the stream stays at its buffer, the whole read grows with it."""
    path = tmp_path / "mid.xml"
    write_camt053(path, 6_000)

    def streamed() -> None:
        with path.open("rb") as stream:
            assert sum(isinstance(e, StatementEntry)
                       for e in stream_camt(stream, path.name, buffer=300)) == 6_000

    def whole() -> None:
        with path.open("rb") as stream:
            assert len(next(read_camt(stream, path.name)).entries) == 6_000

    stream_mb, whole_mb = _traced_peak_mb(streamed), _traced_peak_mb(whole)
    assert stream_mb < 4 and whole_mb > 4 * stream_mb, (stream_mb, whole_mb)


# VmHWM, not ru_maxrss: Linux carries the forking parent's (pytest's) high-water mark over
# exec into ru_maxrss, so a child of a large test process would report the parent's size
_MEASURE = """
import json, sys
from bankgate.domain import StatementEntry
from bankgate.formats.iso20022.camt import stream_camt
count = 0
with open(sys.argv[1], "rb") as stream:
    for event in stream_camt(stream, "big.xml"):
        count += isinstance(event, StatementEntry)
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"entries": count, "rss_mb": peak / 1024}))
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_200k_entry_statement_streams_in_bounded_memory(tmp_path):
    """L-06: ~95 MB of camt.053 in one statement, read in a process that stays < 100 MB."""
    path = tmp_path / "big.xml"
    size = write_camt053(path, 200_000)
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True,
                          text=True, timeout=850, cwd=ROOT, check=True)
    measured = json.loads(done.stdout)
    assert measured["entries"] == 200_000 and size > 90 * 2**20
    assert measured["rss_mb"] < 100, measured  # the whole process, libxml2's tree included


def test_the_census_counts_the_statement_it_is_for_in_a_multi_statement_file():
    """The second statement overflows the buffer; the first repeats nothing of its own."""
    def statement(number: int, entries: list[str]) -> str:
        return (f"<Stmt><Id>S{number}</Id><CreDtTm>2026-11-23T08:00:00</CreDtTm><Acct><Id>"
                "<IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>"
                + "".join(entries) + "</Stmt>")

    first = [entry(n, ref=f"ONE-{n}")[0] for n in range(5)] + [entry(9, ref="SHARED")[0]]
    second = [entry(n, ref="SHARED" if n in (2, 70) else "")[0] for n in range(80)]
    data = ("<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:"
            "camt.053.001.08'><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>"
            + statement(1, first) + statement(2, second)
            + "</BkToCstmrStmt></Document>").encode()
    whole = list(read_camt(io.BytesIO(data), "two.xml"))
    streamed = list(collect(stream_camt(io.BytesIO(data), "two.xml", buffer=10)))
    assert streamed == whole
    assert whole[0].entries[-1].key.kind == "bank_reference"  # SHARED once in statement 1
    assert [whole[1].entries[i].key.kind for i in (2, 70)] == ["composite", "composite"]
