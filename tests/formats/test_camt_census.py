"""The raw-byte census of a long camt statement (`camt_census`) against the lxml census.

The scan must give exactly the set `camt._census` gives — the entry-level `AcctSvcrRef`
that repeat in statement N — or say "don't know" (None); on plain files (no comments,
CDATA, entities) it must answer. Issue 4 (speed) and RELIABILITY.md L-06 (constant memory:
the scan reads small chunks, cut anywhere here); the odd inputs of 2.5 ("uploaded statement
files": BOMs, wrong encodings, truncated XML) must make it step aside, never guess.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bankgate.domain import StatementEntry
from bankgate.errors import FormatError
from bankgate.formats import speedups
from bankgate.formats.iso20022 import camt
from bankgate.formats.iso20022.camt import _census, read_camt, stream_camt
from bankgate.formats.iso20022.camt_census import _scan_in_c, scan_repeated_references
from bankgate.formats.stream import StatementEvent
from tests.formats.camt_files import entry, write_camt053
from tests.samples import SAMPLES, needs_samples

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
OTHER = "urn:example:not-camt"
MESSAGES = (("BkToCstmrStmt", "Stmt"), ("BkToCstmrAcctRpt", "Rpt"),
            ("BkToCstmrDbtCdtNtfctn", "Ntfctn"))


def lxml_census(data: bytes, number: int) -> frozenset[str]:
    return _census(io.BytesIO(data), "test.xml", number)


def scan(data: bytes, number: int, chunk: int = 1 << 18) -> frozenset[str] | None:
    """The census as the reader gets it (the C census first, when built), checked against
    the Python scan alone: on a file lxml reads, where that one answers, both answer the
    same (a broken file is refused by the main pass, whatever a census said)."""
    got = scan_repeated_references(io.BytesIO(data), number, chunk=chunk)
    in_python = python_scan(data, number, chunk)
    if in_python is not None and got != in_python:
        with pytest.raises(FormatError):
            lxml_census(data, number)
    return got


def python_scan(data: bytes, number: int, chunk: int = 1 << 18) -> frozenset[str] | None:
    return scan_repeated_references(io.BytesIO(data), number, chunk=chunk, compiled=False)


def c_scan(data: bytes, number: int, chunk: int = 1 << 18) -> frozenset[str] | None:
    return _scan_in_c(io.BytesIO(data), number, chunk)


needs_c = pytest.mark.skipif(not speedups.COMPILED, reason="the C half is not built here")


# -- generated statements -------------------------------------------------------------------

REFERENCES = st.sampled_from(["A", "B", "C", "Zoë-7", "中文", "R 1", "x/y", "Ntry 2", "Stmt 3",
                             "AcctSvcrRef 4"])
PADS = st.sampled_from(["", " ", "\n  ", "\t", "\r\n "])
GAPS = st.sampled_from(["", "\n", "\n    "])


@dataclass
class Style:
    """How the file names its elements: which prefixes mean the camt namespace."""

    declarations: str
    prefixes: tuple[str, ...]  # "" is unprefixed

    def q(self, draw: st.DrawFn, name: str) -> str:
        prefix = draw(st.sampled_from(self.prefixes))
        return f"{prefix}:{name}" if prefix else name

    def element(self, draw: st.DrawFn, name: str, content: str) -> str:
        qualified = self.q(draw, name)
        return f"<{qualified}>{content}</{qualified}>"


STYLES = st.sampled_from([
    Style(f' xmlns="{NS}"', ("",)),
    Style(f' xmlns:camt="{NS}"', ("camt",)),
    Style(f' xmlns="{NS}" xmlns:c="{NS}" xmlns:o="{OTHER}"', ("", "c")),
    Style(f' xmlns:a="{NS}" xmlns:b.2="{NS}" xmlns:o="{OTHER}"', ("a", "b.2")),
    Style("", ("",)),  # no namespace at all
])


def reference(draw: st.DrawFn, style: Style, text: str | None) -> str:
    """An AcctSvcrRef with `text` (padded), empty, or self-closing (None)."""
    name = style.q(draw, "AcctSvcrRef")
    attributes = draw(st.sampled_from(["", ' Tp="x"']))
    if text is None:
        return f"<{name}{attributes}/>"
    pad_before, pad_after = draw(PADS), draw(PADS)
    return f"<{name}{attributes}>{pad_before}{text}{pad_after}</{name}>"


@st.composite
def entries(draw: st.DrawFn, style: Style) -> str:
    q, element = style.q, style.element
    own = [reference(draw, style, t) for t in draw(st.lists(
        st.one_of(REFERENCES, st.just(""), st.just("   "), st.none()), max_size=3))]
    if " xmlns:o=" in style.declarations and draw(st.booleans()):  # same name, other namespace
        own.insert(0, f"<o:AcctSvcrRef>{draw(REFERENCES)}</o:AcctSvcrRef>")
    nested = "".join(
        element(draw, "TxDtls", element(draw, "Refs", reference(draw, style, t)
                                        + "<EndToEndId>E</EndToEndId>"))
        for t in draw(st.lists(REFERENCES, max_size=2)))
    details = element(draw, "NtryDtls", nested) if nested else ""
    gap = draw(GAPS)
    parts = ["<Amt Ccy='EUR'>1.00</Amt>",
             draw(st.sampled_from(["", "<RvslInd/>", "<Sts><Cd>BOOK</Cd></Sts>"]))]
    parts += [*own, details] if draw(st.booleans()) else [details, *own]
    name = q(draw, "Ntry")
    attributes = draw(st.sampled_from(["", ' Id="n"', " "]))
    return f"<{name}{attributes}>{gap}{gap.join(parts)}{gap}</{name} >" if draw(
        st.booleans()) else f"<{name}{attributes}>{''.join(parts)}</{name}>"


@st.composite
def camt_files(draw: st.DrawFn) -> tuple[bytes, int]:
    """A camt file of 1–3 statements; its bytes and its number of statements."""
    style = draw(STYLES)
    message, statement = draw(st.sampled_from(MESSAGES))
    q = style.q
    message_name = q(draw, message)
    gap = draw(GAPS)
    statements = []
    count = draw(st.integers(1, 3))
    for n in range(count):
        name = q(draw, statement)
        body = gap.join(draw(st.lists(entries(style), max_size=8)))
        tail = draw(st.sampled_from(["", "<AddtlStmtInf>end</AddtlStmtInf>"]))
        statements.append(f"<{name}><Id>S{n}</Id>{gap}{body}{tail}</{name}>")
    head = draw(st.sampled_from(["<?xml version='1.0' encoding='UTF-8'?>\n",
                                 '<?xml version="1.0"?>', "", "\ufeff"]))
    document = q(draw, "Document")
    text = (f"{head}<{document}{style.declarations}><{message_name}><GrpHdr><MsgId>M</MsgId>"
            f"</GrpHdr>{gap}{gap.join(statements)}</{message_name}></{document}>")
    return text.encode(), count


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(camt_files(), st.sampled_from([1, 7, 64, 1 << 18]))
def test_the_scan_finds_what_the_lxml_census_finds_and_answers_for_plain_files(file, chunk):
    data, count = file
    for number in range(1, count + 1):
        expected = lxml_census(data, number)
        assert scan(data, number, chunk) == expected, (number, data)
        if speedups.COMPILED and b":" not in data.split(b"BkToCstmr", 1)[1]:
            assert c_scan(data, number, chunk) == expected, (number, data)  # C answers too


ODD = [
    ("a comment inside an entry", "<Ntry><Amt>1</Amt><!-- x --><AcctSvcrRef>A</AcctSvcrRef>"
     "</Ntry>"),
    ("a comment between entries", "<Ntry><AcctSvcrRef>A</AcctSvcrRef></Ntry><!--<Ntry>-->"),
    ("a comment hiding an entry's end", "<Ntry><!-- </Ntry> --><AcctSvcrRef>A</AcctSvcrRef>"
     "</Ntry>"),
    ("CDATA in a reference", "<Ntry><AcctSvcrRef><![CDATA[A]]></AcctSvcrRef></Ntry>"),
    ("an entity in a reference", "<Ntry><AcctSvcrRef>A&amp;B</AcctSvcrRef></Ntry>"),
    ("a character reference", "<Ntry><AcctSvcrRef>&#65;</AcctSvcrRef></Ntry>"),
    ("a processing instruction", "<Ntry><?pi <AcctSvcrRef>B</AcctSvcrRef>?></Ntry>"),
    ("a line break inside a reference", "<Ntry><AcctSvcrRef>A\r\nB</AcctSvcrRef></Ntry>"),
    ("markup inside a reference", "<Ntry><AcctSvcrRef>A<b>x</b></AcctSvcrRef></Ntry>"),
    ("a namespace declared on an entry",
     f"<Ntry xmlns='{OTHER}'><AcctSvcrRef>A</AcctSvcrRef></Ntry>"),
    ("a namespace declared on a reference",
     f"<Ntry><AcctSvcrRef xmlns='{OTHER}'>A</AcctSvcrRef></Ntry>"),
    ("an entry inside an entry", "<Ntry><X><Ntry><AcctSvcrRef>A</AcctSvcrRef></Ntry></X></Ntry>"),
    ("an entry deeper down", "<Wrap><Ntry><AcctSvcrRef>A</AcctSvcrRef></Ntry></Wrap>"),
    ("a statement inside the statement", "<Rpt><Ntry><AcctSvcrRef>A</AcctSvcrRef></Ntry></Rpt>"),
    ("a message inside an entry",
     "<Ntry><X><BkToCstmrX><Rpt><Id>R</Id></Rpt></BkToCstmrX></X></Ntry>"),
    ("a '>' in an attribute with an empty element",
     "<Ntry><Amt Ccy='a>b'/><AcctSvcrRef>A</AcctSvcrRef></Ntry>"),
    ("an undeclared prefix", "<Ntry><zz:AcctSvcrRef>A</zz:AcctSvcrRef></Ntry>"),
]


def _one_statement(inner: str, *, head: str = "<?xml version='1.0' encoding='UTF-8'?>") -> bytes:
    twice = "<Ntry><AcctSvcrRef>A</AcctSvcrRef></Ntry>"  # A repeats with the odd part's
    return (f"{head}<Document xmlns='{NS}'><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>"
            f"<Stmt><Id>S</Id>{twice}{inner}{twice}</Stmt></BkToCstmrStmt></Document>").encode()


@pytest.mark.parametrize(("case", "inner"), ODD, ids=[c for c, _ in ODD])
def test_what_the_scan_cannot_judge_it_leaves_to_lxml(case, inner):
    data = _one_statement(inner)
    assert python_scan(data, 1) is None, case
    assert python_scan(data, 1, chunk=5) is None, case
    for chunk in (1 << 18, 5):  # the C census judges a '>' in a quoted value; nothing else
        assert scan(data, 1, chunk) in ((None, lxml_census(data, 1)) if "'a>b'" in inner
                                        else (None,)), case


@pytest.mark.parametrize(("case", "data"), [
    ("declared ISO-8859-1", _one_statement("", head="<?xml version='1.0' encoding='ISO-8859-1'?>")),
    ("UTF-16", _one_statement("", head="<?xml version='1.0' encoding='UTF-16'?>")
     .decode().encode("utf-16")),
    ("bytes that are not UTF-8 in a reference",
     _one_statement("<Ntry><AcctSvcrRef>\xff</AcctSvcrRef></Ntry>").replace(b"\xc3\xbf", b"\xff")),
    ("a DOCTYPE", _one_statement("").replace(b"?>", b"?><!DOCTYPE Document>", 1)),
    ("truncated inside the statement", _one_statement("")[:-40]),
    ("no statement at all", f"<Document xmlns='{NS}'><BkToCstmrStmt/></Document>".encode()),
    ("not XML", b"\x00\x01garbage<<>>"),
    ("empty", b""),
])
def test_odd_files_make_the_scan_step_aside(case, data):
    assert scan(data, 1) is None, case


def test_comments_and_instructions_before_the_message_are_fine():
    data = _one_statement("").replace(b"<Document", b"<!-- made by x --><?pi y?>\n<Document")
    assert scan(data, 1) == lxml_census(data, 1) == frozenset({"A"})


def test_a_second_statement_with_the_same_references_counts_only_its_own():
    """Statement 2 repeats statement 1's references once each: no repeat within either."""
    def statement(refs: list[str]) -> str:
        return ("<Stmt><Id>S</Id>" + "".join(
            f"<Ntry><AcctSvcrRef>{r}</AcctSvcrRef></Ntry>" for r in refs) + "</Stmt>")
    data = (f"<Document xmlns='{NS}'><BkToCstmrStmt>{statement(['A', 'B'])}"
            f"{statement(['A', 'B', 'C', 'C'])}</BkToCstmrStmt></Document>").encode()
    assert scan(data, 1) == lxml_census(data, 1) == frozenset()
    assert scan(data, 2) == lxml_census(data, 2) == frozenset({"C"})


def test_references_in_transaction_details_and_other_namespaces_do_not_count():
    data = (f"<Document xmlns='{NS}' xmlns:o='{OTHER}'><BkToCstmrStmt><Stmt><Id>S</Id>"
            "<Ntry><AcctSvcrRef> A </AcctSvcrRef><NtryDtls><TxDtls><Refs><AcctSvcrRef>T"
            "</AcctSvcrRef></Refs></TxDtls></NtryDtls></Ntry>"
            "<Ntry><o:AcctSvcrRef>B</o:AcctSvcrRef><AcctSvcrRef>\nA</AcctSvcrRef><NtryDtls>"
            "<TxDtls><Refs><AcctSvcrRef>T</AcctSvcrRef></Refs></TxDtls></NtryDtls></Ntry>"
            "<Ntry><AcctSvcrRef/><AcctSvcrRef> </AcctSvcrRef><AcctSvcrRef>B</AcctSvcrRef>"
            "</Ntry><Ntry><o:AcctSvcrRef>B</o:AcctSvcrRef></Ntry>"
            "</Stmt></BkToCstmrStmt></Document>").encode()
    assert scan(data, 1) == lxml_census(data, 1) == frozenset({"A"})


# -- the reader end to end ------------------------------------------------------------------

def _repeats(n: int) -> tuple[str, int] | None:
    """Repeated references before and after a buffer of 50: 3 & 120, 40 & 51, 60 & 199."""
    shared = {3: "TWICE-1", 120: "TWICE-1", 40: "TWICE-2", 51: "TWICE-2", 60: "TWICE-3",
              199: "TWICE-3", 10: " PADDED ", 150: "PADDED"}
    return entry(n, ref=shared[n]) if n in shared else None


@pytest.fixture
def census_calls(monkeypatch):
    """How often the lxml census ran (a spy around the real function)."""
    calls: list[int] = []

    def spy(stream, origin, number):
        calls.append(number)
        return _census(stream, origin, number)

    monkeypatch.setattr(camt, "_census", spy)
    return calls


def _events(path: Path, buffer: int | None) -> list[StatementEvent]:
    with path.open("rb") as stream:
        return list(stream_camt(stream, path.name, buffer=buffer))


def _keys(events: list[StatementEvent]) -> list[tuple[str, str]]:
    return [(e.key.kind, e.key.value) for e in events if isinstance(e, StatementEntry)]


def test_streaming_past_the_buffer_uses_the_scan_and_gives_the_whole_reader_s_keys(
        tmp_path, census_calls):
    path = tmp_path / "long.xml"
    write_camt053(path, 200, _repeats)
    events = _events(path, None)
    assert _events(path, 50) == events  # the entries, their keys, start and end
    assert census_calls == []  # the scan answered
    whole = _keys(events)
    kinds = {n: whole[n][0] for n in (3, 120, 40, 51, 60, 199, 10, 150, 4)}
    assert kinds == {3: "composite", 120: "composite", 40: "composite", 51: "composite",
                     60: "composite", 199: "composite", 10: "composite", 150: "composite",
                     4: "bank_reference"}


def test_with_the_scan_unsure_the_lxml_census_gives_the_same_keys(tmp_path, census_calls,
                                                                   monkeypatch):
    path = tmp_path / "long.xml"
    write_camt053(path, 200, _repeats)
    events = _events(path, None)
    monkeypatch.setattr(camt, "scan_repeated_references", lambda stream, number: None)
    assert _events(path, 50) == events
    assert census_calls == [1]


def test_a_comment_in_the_statement_sends_the_census_to_lxml(tmp_path, census_calls):
    path = tmp_path / "commented.xml"
    write_camt053(path, 200, lambda n: (entry(n, ref="TWICE-1")[0] + "<!-- checked -->",
                                        entry(n)[1]) if n in (3, 120) else None)
    events = _events(path, None)
    assert _events(path, 50) == events
    assert census_calls == [1]
    whole = _keys(events)
    assert whole[3][0] == whole[120][0] == "composite"


def test_xml_broken_where_the_scan_does_not_look_is_still_refused_by_the_reader(
        tmp_path, census_calls):
    """The scan answers (it reads only the watched tags); the main pass finds the break."""
    path = tmp_path / "broken.xml"
    write_camt053(path, 200, lambda n: (entry(n)[0].replace("</Amt>", "</Amount>"),
                                        entry(n)[1]) if n == 150 else None)
    with pytest.raises(FormatError, match="not well-formed"), path.open("rb") as stream:
        list(stream_camt(stream, path.name, buffer=50))
    assert census_calls == []


def test_a_truncated_file_is_refused_by_the_reader(tmp_path):
    path = tmp_path / "truncated.xml"
    write_camt053(path, 200, _repeats)
    path.write_bytes(path.read_bytes()[:-2000])
    with pytest.raises(FormatError), path.open("rb") as stream:
        list(stream_camt(stream, path.name, buffer=50))


# -- the real files -------------------------------------------------------------------------

def _camt_samples() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.rglob("*.xml")
                  if "xsd" not in p.parts and b"camt.05" in p.read_bytes()[:4096])


@needs_samples
@pytest.mark.parametrize("path", _camt_samples(), ids=lambda p: p.name)
def test_every_sample_statement_gets_the_lxml_census_from_the_scan(path):
    data = path.read_bytes()
    try:
        count = len(list(read_camt(io.BytesIO(data), path.name)))
    except FormatError:
        pytest.skip("the reader refuses this file (an error case among the samples)")
    message = data[data.find(b"BkToCstmr"):]
    plain = re.search(rb"<[!?]", message) is None
    for number in range(1, count + 1):
        got = scan(data, number)
        assert got == lxml_census(data, number) or (got is None and not plain), number
        assert got is not None or not plain, number


LEGAL_BUT_TRICKY = [
    ("a '>' and '/>' in a statement's attribute", "<Stmt a='x/>'><Id>S</Id>{entries}<Ntry>"
     "<AcctSvcrRef>A</AcctSvcrRef></Ntry></Stmt>"),
    ("a '>' in a reference's attribute",
     "<Stmt><Id>S</Id>{entries}<Ntry><AcctSvcrRef Tp='a>b'>A</AcctSvcrRef></Ntry></Stmt>"),
    ("the word Ntry in a nested reference, the entry's own after it",
     "<Stmt><Id>S</Id>{entries}<Ntry><NtryDtls><Refs><AcctSvcrRef>Ntry x</AcctSvcrRef></Refs>"
     "</NtryDtls><AcctSvcrRef/><AcctSvcrRef>A</AcctSvcrRef></Ntry></Stmt>"),
    ("the word AcctSvcrRef in text",
     "<Stmt><Id>S</Id>{entries}<Ntry><AddtlNtryInf>AcctSvcrRef </AddtlNtryInf>"
     "<AcctSvcrRef>A</AcctSvcrRef></Ntry></Stmt>"),
    ("a '>' in text", "<Stmt><Id>S</Id>{entries}<Ntry><Nm>a->b</Nm><AcctSvcrRef>A"
     "</AcctSvcrRef></Ntry></Stmt>"),
    ("Stmt as text between entries", "<Stmt><Id>S</Id>{entries}<Ntry><AcctSvcrRef>A"
     "</AcctSvcrRef></Ntry></Stmt>"),
]


@pytest.mark.parametrize(("case", "statement"), LEGAL_BUT_TRICKY,
                         ids=[c for c, _ in LEGAL_BUT_TRICKY])
@pytest.mark.parametrize("chunk", [3, 1 << 18])
def test_legal_but_tricky_files_get_the_lxml_answer_or_none(case, statement, chunk):
    entries = "<Ntry><AcctSvcrRef>A</AcctSvcrRef></Ntry><Ntry><AcctSvcrRef>B</AcctSvcrRef></Ntry>"
    data = (f"<Document xmlns='{NS}'><BkToCstmrStmt>{statement.format(entries=entries)}"
            "</BkToCstmrStmt></Document>").encode()
    expected = lxml_census(data, 1)
    assert expected == frozenset({"A"})
    assert scan(data, 1, chunk) in (expected, None), case


def test_the_word_ntry_in_a_nested_reference_does_not_lose_the_depth():
    data = (f"<Document xmlns='{NS}'><BkToCstmrStmt>{LEGAL_BUT_TRICKY[2][1]}"
            "</BkToCstmrStmt></Document>").replace("{entries}", "<Ntry><AcctSvcrRef>A"
                                                  "</AcctSvcrRef></Ntry>").encode()
    assert scan(data, 1) == lxml_census(data, 1) == frozenset({"A"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(camt_files(), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 12),
                                        st.sampled_from([b"", b"<", b">", b"/", b"</Ntry>",
                                                         b"<Ntry>", b"&", b"\xff", b"'",
                                                         b"<!--", b"-->", b" xmlns='u'"])),
                              min_size=1, max_size=3))
def test_mangled_files_never_make_the_scan_raise_nor_disagree_with_a_file_lxml_reads(
        file, edits):
    """Bytes cut out or put in anywhere (RELIABILITY.md 2.5, truncated and broken XML)."""
    data, count = file
    for at, cut, put in edits:
        at %= len(data) + 1
        data = data[:at] + put + data[at + cut:]
    for number in range(1, count + 1):
        got = scan(data, number, 7)  # must not raise, whatever the bytes
        try:
            expected = lxml_census(data, number)
        except FormatError:
            continue  # the main pass refuses the file too
        assert got in (None, expected), (number, data)


# -- the C census (formats/_speedups.pyx) ---------------------------------------------------

@needs_c
@pytest.mark.parametrize("chunk", [1, 13, 1 << 18])
def test_the_c_census_answers_a_plain_long_statement_cut_anywhere(tmp_path, chunk):
    path = tmp_path / "long.xml"
    write_camt053(path, 300, _repeats)
    data = path.read_bytes()
    assert c_scan(data, 1, chunk) == lxml_census(data, 1) == python_scan(data, 1, chunk)
    assert lxml_census(data, 1)  # the file has repeats to find


@needs_c
@pytest.mark.parametrize(("case", "reference", "c_answers"), [
    ("only a no-break space: the entry's next reference counts", "\u00a0", False),
    ("ideographic spaces around it", "\u3000A\u3000", True),
    ("Chinese", "中文", True),
])
def test_the_c_census_leaves_unicode_spaces_to_python_s_strip(case, reference, c_answers):
    inner = f"<Ntry><AcctSvcrRef>{reference}</AcctSvcrRef><AcctSvcrRef>B</AcctSvcrRef></Ntry>"
    data = _one_statement(inner)  # "A" twice around it
    census = lxml_census(data, 1)
    assert census == frozenset({"A"}), case
    assert scan(data, 1) == census, case
    assert c_scan(data, 1) == (census if c_answers else None), case
