"""The compiled half of the MT940 reader (swift/_mt940_speedups.pyx) gives what its Python
twins give: on every sample, on generated files and on generated odd text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bankgate.formats.swift import field86, mt940
from bankgate.formats.swift.compiled import C
from tests.formats.test_mt940_same_as_before import FILES, INFO, MT940_FILE
from tests.formats.test_mt940_same_as_before import outcome as outcome_of

pytestmark = pytest.mark.skipif(C is None, reason="swift/_mt940_speedups is not built here "
                                "(no Cython or C compiler, or BANKGATE_PURE_PYTHON is set)")


def python_structured(flat: str) -> field86.Details | None:
    """The Python reading of a structured :86:, None for the other dialects."""
    if field86._GVC.match(flat) and field86._SUBFIELD.search(flat):
        return field86._structured(flat)
    return None


def read_in_python(data: bytes, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        patch.setattr(mt940, "_head61", mt940._py_head61)
        patch.setattr(field86, "C", None)
        patch.setattr(mt940, "C", None)
        return outcome(data)


def outcome(data: bytes) -> object:
    return outcome_of(mt940.read_mt940, data)


def sample_text() -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in FILES)


@pytest.mark.skipif(not FILES, reason="shared/samples is not beside this checkout")
def test_every_sample_61_row_has_the_head_the_regex_finds():
    rows = re.findall(r"^:61:([^\r\n]*)", sample_text(), re.MULTILINE)
    assert len(rows) > 100
    for row in rows:
        assert C.head61(row) == mt940._py_head61(row), row


@pytest.mark.skipif(not FILES, reason="shared/samples is not beside this checkout")
def test_every_sample_86_field_gives_the_details_python_gives():
    texts = re.findall(r"^:86:(.*?)(?=^:\d\d[A-Z]?:|^-|\Z)", sample_text(),
                       re.MULTILINE | re.DOTALL)
    assert len(texts) > 100
    for text in texts:
        flat = text.replace("\n", "")
        assert C.structured86(flat, field86._new_details) == python_structured(flat), text


@pytest.mark.skipif(not FILES, reason="shared/samples is not beside this checkout")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_sample_reads_the_same_compiled_and_in_python(
        path: Path, monkeypatch: pytest.MonkeyPatch):
    data = path.read_bytes()
    assert outcome(data) == read_in_python(data, monkeypatch)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=MT940_FILE)
def test_generated_files_read_the_same_compiled_and_in_python(
        data: bytes, monkeypatch: pytest.MonkeyPatch):
    assert outcome(data) == read_in_python(data, monkeypatch)


_ROW_CHARS = "0123456789٣²RCDEN ,/ABZaT"


@settings(max_examples=1000, deadline=None)
@given(st.one_of(
    st.text(alphabet=_ROW_CHARS, max_size=30),
    st.builds(lambda day, rest: day + rest, st.sampled_from(["240229", "2402290229", "٣40229"]),
              st.text(alphabet=_ROW_CHARS, max_size=20))))
def test_generated_61_rows_have_the_head_the_regex_finds(row: str):
    assert C.head61(row) == mt940._py_head61(row)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(INFO, st.text(alphabet="?0123456789٣+ EREFSVWZBICIBAN/", max_size=40),
                 st.builds(lambda rest: "166?" + rest,
                           st.text(alphabet="?0123456789٣+ EREFSVWZBIC", max_size=40))))
def test_generated_86_fields_give_the_details_python_gives(text: str):
    flat = text.replace("\n", "")
    assert C.structured86(flat, field86._new_details) == python_structured(flat)


_ODD_TEXT = st.lists(st.sampled_from(
    [chr(c) for c in range(0x21)] + ["\x7f", "\x85", "\u2028", ":", "2", "0", "6", "1", "A", "٣",
                                      "é", "\n:20:", "\n:61:", "\n:86:", "\n:28C:"]),
    max_size=40).map("".join)


@settings(max_examples=800, deadline=None)
@given(_ODD_TEXT)
def test_control_bytes_are_found_as_the_regex_finds_them(text: str):
    assert C.has_control(text) == (mt940._CONTROL.search(text) is not None)


@settings(max_examples=800, deadline=None)
@given(_ODD_TEXT)
def test_fields_are_cut_and_numbered_as_in_python(text: str):
    compiled = mt940._fields(text, "x")
    pieces = mt940._TAG_LINE.split("\n" + text)
    line, python = 1 + pieces[0].count("\n"), []
    for i in range(1, len(pieces), 2):
        python.append(mt940._Field(pieces[i], pieces[i + 1].lstrip("\n").rstrip(), line))
        line += pieces[i + 1].count("\n") + 1
    assert compiled == python and all(type(f) is mt940._Field for f in compiled)


@pytest.mark.parametrize("reference", ["NOTPROVIDED", "notprovided", "NotProvıded", "nonref",
                                       "NONREF", "NONREFX", "ıNONREF", "E2E-1"])
def test_placeholder_references_are_told_as_python_tells_them(reference: str):
    # 'ı'.upper() is 'I': a non-ASCII reference is upper-cased as Python does, not by bytes
    flat = f"166?20EREF+{reference}?21SVWZ+text"
    assert C.structured86(flat, field86._new_details) == python_structured(flat)


def entry_values() -> dict[str, object]:
    from datetime import date
    from decimal import Decimal

    from bankgate.domain import EntryKey, EntryStatus, Money, Source, currency
    return {"key": EntryKey("bank_reference", "B1"),
            "amount": Money(Decimal("1.50"), currency("EUR")), "status": EntryStatus.BOOKED,
            "booking_date": date(2026, 11, 23), "value_date": date(2026, 11, 23),
            "bank_reference": "B1", "end_to_end_id": "E2E", "counterparty_name": "Kunde",
            "counterparty_account": "NL91ABNA0417164300", "remittance": "Rechnung",
            "source": Source(origin="x", where="line 5"), "raw": b"",
            "account_servicer_reference": None, "instruction_id": None, "is_reversal": False,
            "bank_transaction_code": "NTRF/166", "transactions": ()}


def test_records_stored_slot_by_slot_equal_the_class_own_and_are_left_to_refcounting():
    import gc

    from bankgate.domain import StatementEntry
    values = entry_values()
    made = C.make(StatementEntry, mt940._ENTRY_SLOTS, tuple(values[n] for n in
                                                           mt940._ENTRY_SLOTS))
    assert made == StatementEntry(**values)  # type: ignore[arg-type]
    assert not gc.is_tracked(made) and gc.is_tracked(StatementEntry(**values))  # type: ignore


def test_read_entries_and_fields_are_not_tracked_by_the_cyclic_collector():
    import gc
    import io

    data = b":20:R\n:25:DE89370400440532013000\n:60F:C261123EUR0,00\n" \
           b":61:2611231123C1,00NTRFE2E//B1\n:86:166?20EREF+E2E\n:62F:C261123EUR1,00\n"
    fields = mt940._fields(data.decode(), "x")
    (statement,) = mt940.read_mt940(io.BytesIO(data), "x")
    (entry,) = statement.entries
    assert entry.key.value == "B1" and entry.end_to_end_id == "E2E"
    assert not any(gc.is_tracked(o) for o in (entry, entry.key, entry.source, *fields))


class _WithPostInit:
    __slots__ = ("a",)

    def __post_init__(self) -> None:
        pass


class _Plain:
    __slots__ = ("a", "b")


class _Child(_Plain):
    __slots__ = ()


@pytest.mark.parametrize(("cls", "names"), [
    (_WithPostInit, ("a",)), (_Plain, ("a",)), (_Plain, ("a", "a")), (_Plain, ("a", "c")),
    (_Child, ("a", "b")), (dict, ())])
def test_classes_that_cannot_be_built_slot_by_slot_are_refused(cls: type, names: tuple[str]):
    with pytest.raises(TypeError):
        C.make(cls, names, (1,) * len(names))


def test_a_record_given_the_wrong_number_of_values_is_refused():
    with pytest.raises(TypeError, match="takes 2 values, 1 given"):
        C.make(_Plain, ("a", "b"), (1,))


def amounts_as_written(data: bytes, monkeypatch: pytest.MonkeyPatch | None) -> object:
    """Each entry's amount as its Decimal prints (7.5 and 7.50 are equal, not the same)."""
    read = outcome(data) if monkeypatch is None else read_in_python(data, monkeypatch)
    if isinstance(read, str):
        return read
    return [[(str(e.amount.amount), e.amount.currency.code) for e in s.entries] for s in read]


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.text(alphabet="0123456789,٣", min_size=1, max_size=20)
       .filter(lambda t: t[0].isdecimal()),
       code=st.sampled_from(["EUR", "JPY", "KWD"]), mark=st.sampled_from(["C", "D", "RD"]))
def test_amounts_are_read_to_the_same_digits_and_sign_compiled_and_in_python(
        amount: str, code: str, mark: str, monkeypatch: pytest.MonkeyPatch):
    # the compiled reading builds the Money of a plain amount itself (no zero, no odd digit)
    data = (f":20:R\n:25:DE89370400440532013000\n:60F:C261123{code}0,\n"
            f":61:2611231123{mark}{amount}NTRFE2E//B1\n:86:166?20text\n").encode()
    assert amounts_as_written(data, None) == amounts_as_written(data, monkeypatch)


_LONG_PIECES = [f"?{20 + i}" + "Rechnung 2026-11 Posten " + "x" * (i * 3) for i in range(10)]


@pytest.mark.parametrize("flat", [
    "166" + "".join(_LONG_PIECES),  # more than the 256 characters held without the heap
    "166" + "".join(_LONG_PIECES[:3]) + "?24EREF+E2E-1 SV?25WZ+split key ?26IBAN+DE89 3704",
    "166?21SVWZ+second?20EREF+first ?22 third",  # out of code order
    "166?20EREF+Ünïcødé  ?21 ŁÓDŹ SVWZ+Zahlung ✓?32Kunde?33 GmbH?31 DE89",
    "166?20  ?21 ?32 ?31 ",
])
def test_long_split_and_wide_86_fields_give_the_details_python_gives(flat: str):
    assert C.structured86(flat, field86._new_details) == python_structured(flat)
