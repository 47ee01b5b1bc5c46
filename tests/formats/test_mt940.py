"""MT940/MT942 against every sample: real values, dialects of :86:, clear refusals."""

from __future__ import annotations

import gc
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bankgate.domain import check_statement
from bankgate.errors import FormatError
from bankgate.formats.swift import mt940
from bankgate.formats.swift.field86 import _subfields, read_field86
from bankgate.formats.swift.mt940 import read_mt940
from tests.samples import SAMPLES, needs_samples

FILES = sorted([*(SAMPLES / "mt940").glob("*"), *(SAMPLES / "mt942").glob("*")])
REFUSED = {  # fragments, truncated or invalid files, and what must be said about them
    "betterplace__amount_formats.sta": ":25:", "betterplace__empty_86.sta": ":25:",
    "betterplace__empty_entry_date.sta": ":25:", "betterplace__empty_line.sta": ":25:",
    "betterplace__missing_crlf_at_end.sta": ":25:", "cmxl__statement-mt940.txt": ":25:",
    "cmxl__statement-details-mt940.txt": ":25:", "kingsquare__Rabo__sample2.sta": ":25:",
    "mt940rs__unexpected_tag.sta": ":25:", "self-provided__sparkassen.sta": ":25:",
    "cmxl__mt940-headers.txt": "line 10 (:62F:)", "cmxl__mt940.txt": "'DEM'",
    "self-provided__raphaelm.sta": "'DEM'", "self-provided__empty_non_swift.sta": "no MT940",
    "self-provided__invalid_statement.sta": "no MT940",
    "self-provided__february_30.sta": "'160230' is not a date",
    "self-provided__transaction_details_wrapped.sta": "'160230' is not a date",
}


def read(name: str):
    path = next(p for p in FILES if p.name == name)
    with path.open("rb") as stream:
        return list(read_mt940(stream, name))


@pytest.mark.skipif(not FILES, reason="shared/samples is not beside this checkout")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_mt94x_sample_reads_or_is_refused_naming_the_place(path: Path):
    with path.open("rb") as stream:
        if path.name in REFUSED:
            with pytest.raises(FormatError) as err:
                list(read_mt940(stream, path.name))
            assert REFUSED[path.name] in str(err.value)
            return
        statements = list(read_mt940(stream, path.name))
    assert statements
    for stmt in statements:
        check_statement(stmt)  # reports, never raises


@needs_samples
def test_a_generic_multi_statement_file_adds_up():
    first, second = read("jejik__generic.sta")
    assert (first.opening.amount.amount, first.closing.amount.amount) == (Decimal("100.00"),
                                                                         Decimal("90.00"))
    assert [str(e.amount.amount) for e in first.entries] == ["-10.00"]
    assert second.opening.amount == first.closing.amount and not check_statement(second)


@needs_samples
def test_danske_norway_example_has_thirteen_statements():
    statements = read("mt940rs__danskebank__MT940_NO_Example.sta")
    assert len(statements) == 13 and sum(len(s.entries) for s in statements) == 24


@needs_samples
def test_envelopes_between_statements_are_dropped():
    statements = read("kingsquare__Asn__sample.sta")
    assert len(statements) >= 2 and all(s.closing for s in statements)


def test_field86_dialects():
    german = read_field86("166?00GUTSCHR. UEBERWEISUNG?20EREF+E2E-1 SVWZ+Rechnung 42?32Max "
                          "Mustermann?31DE89370400440532013000")
    assert (german.code, german.end_to_end_id, german.remittance) == ("166", "E2E-1",
                                                                      "Rechnung 42")
    assert german.counterparty_name == "Max Mustermann"
    dutch = read_field86("/EREF/REF-7//CNTP/NL91ABNA0417164300/ABNANL2A/J DOE///REMI/USTD//"
                         "INV 3/")
    assert dutch.end_to_end_id == "REF-7" and dutch.counterparty_account == "NL91ABNA0417164300"
    assert read_field86("plain text\nmore").remittance == "plain text more"


TWINS = (":20:T\n:25:12345678\n:28C:1\n:60F:C240201EUR100,00\n"
         ":61:240201D10,00NTRFNONREF\n:86:coffee\n:61:240201D10,00NTRFNONREF\n:86:coffee\n"
         ":62F:C240201EUR80,00\n-\n")


def test_two_identical_lines_stay_two_entries_with_stable_keys():
    [first] = read_mt940(io.BytesIO(TWINS.encode()), "twins.sta")
    [again] = read_mt940(io.BytesIO(TWINS.encode()), "twins.sta")
    assert len({e.key for e in first.entries}) == 2
    assert [e.key for e in first.entries] == [e.key for e in again.entries]
    assert not check_statement(first)


@pytest.mark.parametrize(("change", "says"), [
    (("D10,00N", "X10,00N"), "line 5 (:61:)"),
    (("C240201EUR100,00", "C240201EUR100,001"), "line 4 (:60F:)"),
    (("C240201EUR80,00", "C240231EUR80,00"), "not a date"),
])
def test_broken_fields_are_named_by_line(change, says):
    with pytest.raises(FormatError, match=says.replace("(", r"\(").replace(")", r"\)")):
        list(read_mt940(io.BytesIO(TWINS.replace(*change, 1).encode()), "bad.sta"))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="?0123456789٣²ab +/", max_size=40))
def test_field86_subfields_split_as_the_regex_reading_does(rest: str):
    """`?NN` pieces by str.split give the pairs `(\\d{2})([^?]*)` found, even in odd text."""
    assert _subfields(rest) == re.findall(r"(\d{2})([^?]*)", "?" + rest)


def test_the_collector_is_held_off_only_while_a_statement_is_built():
    enabled_between = []
    for _ in read_mt940(io.BytesIO((TWINS * 2).encode()), "twins.sta"):
        enabled_between.append(gc.isenabled())  # the caller's code runs with it as it was
    assert enabled_between == [True, True] and gc.isenabled()
    gc.disable()
    try:
        list(read_mt940(io.BytesIO(TWINS.encode()), "twins.sta"))
        assert not gc.isenabled()  # one the caller turned off stays off
    finally:
        gc.enable()


@pytest.mark.parametrize("digits", [18, 30])
@pytest.mark.parametrize("where", ["entry", "balance"])
def test_an_amount_too_large_for_any_payment_is_refused_naming_its_line(digits, where):
    amount = "1" * digits + ",00"
    line61 = f":61:2611231123C{amount}NTRFNONREF//B1\n:86:x\n" if where == "entry" else ""
    opening = amount if where == "balance" else "0,00"
    text = (":20:X\n:25:DE89370400440532013000\n:28C:1/1\n"
            f":60F:C261123EUR{opening}\n{line61}:62F:C261123EUR0,00\n-\n")
    with pytest.raises(FormatError, match="larger than any") as refused:
        list(read_mt940(io.BytesIO(text.encode()), "big.sta"))
    assert refused.value.where == ("line 5 (:61:)" if where == "entry" else "line 4 (:60F:)")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["-", "-}", "-XYZ", "- \t", "-ABCDE", ":20:R", "x-", "\n", "\n",
                                 ":61:2611231123C1,00NTRF", " ", "é"]), max_size=12)
       .map("".join))
def test_end_of_message_lines_become_empty_lines_wherever_they_are(text: str):
    # the former reading: the pattern after a line end put in front, and that one taken off
    assert mt940._unwrap(text) == mt940._TERMINATOR.sub("\n", "\n" + text)[1:]
