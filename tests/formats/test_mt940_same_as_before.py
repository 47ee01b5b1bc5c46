"""The fast MT940 reader gives exactly what the reader before it gave (mt940_before.py):
the same statements, entries, keys and sources, or the same error naming the same line."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import re
import sys
from decimal import InvalidOperation
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bankgate.errors import DomainError, FormatError
from bankgate.formats.swift import field86, mt940
from tests.formats import mt940_before as previous
from tests.samples import SAMPLES

FILES = sorted([*(SAMPLES / "mt940").glob("*"), *(SAMPLES / "mt942").glob("*")])


def outcome(read, data: bytes) -> object:
    """Every statement read from `data`, or the error (as text) that stopped the reading.

    Not only FormatError: the reader before let an amount too large for a payment escape as
    InvalidAmount, and one too large for the decimal context as InvalidOperation.
    """
    try:
        return list(read(io.BytesIO(data), "file.sta"))
    except (FormatError, DomainError, InvalidOperation) as exc:
        return f"{type(exc).__name__}: {exc}"


def assert_same(data: bytes) -> None:
    now, before = outcome(mt940.read_mt940, data), outcome(previous.read_mt940, data)
    if isinstance(before, str) and before.startswith(("InvalidAmount", "InvalidOperation")):
        # the one difference meant: such an amount is now a FormatError naming its line
        assert isinstance(now, str) and now.startswith("FormatError") and "larger than any" \
            in now, (now, before)
        return
    assert now == before
    if isinstance(now, list):  # equality skips `raw`; the fields are compared one by one
        for new, old in zip(now, before, strict=True):
            assert [repr(e) for e in new.entries] == [repr(e) for e in old.entries]


def same_details(text: str) -> bool:
    return (dataclasses.astuple(field86.read_field86(text))
            == dataclasses.astuple(previous.read_field86(text)))


@pytest.mark.skipif(not FILES, reason="shared/samples is not beside this checkout")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_sample_reads_exactly_as_before(path: Path):
    assert_same(path.read_bytes())


@pytest.mark.skipif(not FILES, reason="shared/samples is not beside this checkout")
def test_every_sample_86_field_gives_the_details_it_gave_before():
    infos = [m.group(1) for p in FILES for m in re.finditer(
        r"^:86:(.*?)(?=^:\d\d[A-Z]?:|^-|\Z)", p.read_bytes().decode("latin-1"),
        re.MULTILINE | re.DOTALL)]
    assert len(infos) > 100
    for text in infos:
        assert same_details(text), text


def test_the_bench_file_reads_exactly_as_before(tmp_path: Path):
    bench = Path(__file__).resolve().parents[2] / "bench" / "formats.py"
    spec = importlib.util.spec_from_file_location("bench_formats", bench)
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)  # in sys.modules first: its dataclasses look it up
    path = tmp_path / "bench.sta"
    module.generate_mt940(3000, path)
    assert_same(path.read_bytes())


# -- generated files: every :61: subfield, every :86: dialect, odd text and broken fields


def _mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """One of `good` 24 times in 25, else one of `bad` (a broken file stops at its first
    broken field: mostly good fields let the reading go on)."""
    return st.sampled_from(good * (24 * len(bad)) + bad * len(good))


_DAY = _mostly(["240229", "231231", "240101", "991231", "000101"], ["240230", "24013", "2402x1"])
_LINE61 = st.builds(
    "".join, st.tuples(
        _DAY, _mostly(["", "0229", "1231", "0101"], ["1301", "0230", "12"]),
        _mostly(["C", "D", "RC", "RD", "EC", "ED"], ["X", "R"]),
        st.sampled_from(["", "N", "R", "Z"]),
        _mostly(["10,00", "0,5", "1,", "1000000,01", "7"],
                ["1,234", "1,2,3", ",5", "1" * 17 + ",00", "1" * 30 + ",00"]),
        _mostly(["NTRF", "NMSC", "FCHG", "S051", "N 1 "], ["ntrf", "N1"]),
        st.sampled_from(["", "NONREF", "REF-1", "A//B", " x ", "a/b", "//"]),
        st.sampled_from(["", "//B1", "//B2", "//NONREF", "//", "// ", "//B1//C"]),
        st.sampled_from(["", "\n", "\nextra text", "\n/OCMT/EUR1,\n/CHGS/EUR0,5", "\n:x"]),
    ))
_SUB = st.sampled_from(["?00", "?20", "?21", "?22", "?29", "?60", "?63", "?30", "?31", "?32",
                        "?33", "?34", "?64", "?2", "?٣٣", "?", "??", "\n", "?20\n"])
_WORD = st.sampled_from(["EREF+E2E-1 ", "SVWZ+Rechnung ", "KREF+K", "IBAN+DE1", "NOTPROVIDED",
                         "Max Mustermann", " ", "a+b", "EREF+", "nonref", "/EREF/R7/", "/REMI/",
                         "/NAME/J DOE/", "/IBAN/NL91/", "/CNTP/NL9/ABNA/", "x/y", "12", "Ü"])
INFO = st.one_of(
    st.builds(lambda code, parts: code + "".join(parts),
              st.sampled_from(["166", "835", "16", "1x6", ""]),
              st.lists(st.one_of(_SUB, _WORD), max_size=12)),
    st.builds("".join, st.lists(_WORD, max_size=8)),
    st.text(alphabet="?/+ab12\n EREF", max_size=30),
)
_ENTRY = st.tuples(_LINE61, st.one_of(st.none(), INFO))


def _statement(number: int, entries: list[tuple[str, str | None]], envelope: bool,
               balances: tuple[str, str]) -> str:
    body = "".join(f":61:{line}\n" + (f":86:{info}\n" if info is not None else "")
                   for line, info in entries)
    text = (f":20:S{number}\n:25:DE89370400440532013000EUR\n:28C:{number}/1\n"
            f":60F:{balances[0]}\n{body}:62F:{balances[1]}\n-\n")
    return "{1:F01BANKDEFFXXXX0000000000}{2:O940}{4:\n" + text + "-}" if envelope else text


_BALANCE = _mostly(["C240229EUR100,00", "D240229EUR5,", "C240229EUR1,00\n:NS:x"],
                  ["C240229EUR1,001", "C240229XXX1,00", "X"])


def _file(statements: list[tuple[list[tuple[str, str | None]], bool, tuple[str, str]]],
          line_end: str, control: bool) -> bytes:
    text = "".join(_statement(n, entries, envelope, balances)
                   for n, (entries, envelope, balances) in enumerate(statements, 1))
    if control:
        text = text.replace(":86:", ":86:\x01", 1).replace("\n-", "\n\x7f-", 1)
    return text.replace("\n", line_end).encode("utf-8")


#: Whole files: 1-3 statements (some in SWIFT envelopes), any line ends, control bytes.
MT940_FILE = st.builds(
    _file, st.lists(st.tuples(st.lists(_ENTRY, max_size=6), st.booleans(),
                              st.tuples(_BALANCE, _BALANCE)), min_size=1, max_size=3),
    st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MT940_FILE)
def test_generated_files_read_exactly_as_before(data: bytes):
    assert_same(data)


@settings(max_examples=800, deadline=None)
@given(INFO)
def test_generated_86_fields_give_the_details_they_gave_before(text: str):
    assert same_details(text)
