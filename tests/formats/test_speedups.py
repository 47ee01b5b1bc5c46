"""The C half of the readers (formats/_speedups.pyx) against its Python twins.

Both must give the same values for any element lxml can parse: odd texts (CDATA, character
references, comments the parser drops, mixed content), namespaces, missing and repeated
fields; and the same statements, keys and errors for every sample file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bankgate.domain import (
    EntryDetail,
    EntryKey,
    EntryStatus,
    Money,
    Source,
    StatementEntry,
    currency,
)
from bankgate.errors import FormatError
from bankgate.formats import speedups
from bankgate.formats.iso20022.camt import read_camt
from bankgate.formats.iso20022.camt_fields import DETAIL_FIELDS, ENTRY_FIELDS, ENTRY_PLAN
from bankgate.formats.speedups import maker, pull_values, python_maker, python_pull_values
from bankgate.formats.xml import iter_elements
from tests.samples import SAMPLES

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
OTHER = "urn:example:not-camt"


def test_the_c_half_is_built_by_the_project_s_own_setup():
    if os.environ.get("BANKGATE_PURE_PYTHON"):
        pytest.skip("BANKGATE_PURE_PYTHON asks for the Python twins")
    assert speedups.COMPILED, ("formats/_speedups.pyx was not built: `pip install -e .` needs "
                               "Cython and a C compiler (run.sh installs both)")


needs_c = pytest.mark.skipif(not speedups.COMPILED, reason="the C half is not built here")

# -- pull_values: element by element ----------------------------------------------------------

_words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6)


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Element content as XML: plain, padded, split by CDATA or a comment, escaped."""
    word = draw(_words)
    escaped = word.replace("&", "&amp;").replace("<", "&lt;").replace("]]>", "]]&gt;")
    form = draw(st.sampled_from(["plain", "padded", "cdata", "split", "comment", "charref",
                                 "empty", "child"]))
    if form == "padded":
        return f" \n\t{escaped}  "
    if form == "cdata":
        return f"<![CDATA[{word.replace(']]>', '')}]]>"
    if form == "split":
        return f"{escaped}<![CDATA[ x ]]>{escaped}"
    if form == "comment":
        return f"{escaped}<!-- dropped -->{escaped}"
    if form == "charref":
        return "&#x41;&#20013;" + escaped
    if form == "empty":
        return ""
    if form == "child":  # mixed content: the text before the first child
        return f"{escaped}<Inner>no</Inner>{escaped}"
    return escaped


def _element(draw: st.DrawFn, name: str, inner: str) -> str:
    space = draw(st.sampled_from(["", "", "", "other", "prefixed"]))
    if space == "other":  # the same local name in another namespace: never ours
        return f"<{name} xmlns='{OTHER}'>{inner}</{name}>"
    if space == "prefixed":  # ours under a prefix: the same element
        return f"<c:{name} xmlns:c='{NS}'>{inner}</c:{name}>"
    return f"<{name}>{inner}</{name}>"


def _nested(draw: st.DrawFn, path: str, leaf: str) -> str:
    *above, last = path.split("/")
    xml = _element(draw, last, leaf)
    for step in reversed(above):
        xml = _element(draw, step, xml)
    return xml


@st.composite
def amounts(draw: st.DrawFn) -> str:
    currency_attr = draw(st.sampled_from(["", " Ccy='EUR'", " Ccy='E&#x55;R'", " Ccy=''",
                                          " x:Ccy='USD' xmlns:x='urn:x'", " Ccy='CNY' Other='1'"]))
    return f"<Amt{currency_attr}>{draw(texts())}</Amt>"


@st.composite
def records(draw: st.DrawFn, fields: tuple[tuple[str, int], ...]) -> str:
    parts = []
    for path, kind in fields:
        for _ in range(draw(st.integers(0, 2))):
            if path.endswith("Amt"):
                *above, _last = path.split("/")
                leaf = draw(amounts())
                parts.append(_nested(draw, "/".join(above), leaf) if above else leaf)
            elif kind == speedups.RECORD:
                inner = draw(records(DETAIL_FIELDS))
                parts.append(_nested(draw, path, inner))
            else:
                parts.append(_nested(draw, path, draw(texts())))
        if draw(st.booleans()):
            parts.append("<Unknown><Amt Ccy='XXX'>9</Amt></Unknown>")  # not on a wanted path
    order = draw(st.permutations(range(len(parts))))
    return "".join(parts[i] for i in order)


def _entries(body: str, namespace: str | None) -> list:
    xmlns = f" xmlns='{namespace}'" if namespace else ""
    document = f"<Document{xmlns}><Stmt>{body}</Stmt></Document>".encode()
    return [e for e in iter_elements(io.BytesIO(document), "gen.xml", frozenset({"Ntry"}),
                                     free=False)]


@needs_c
@settings(max_examples=150, deadline=None)
@given(st.lists(records(ENTRY_FIELDS), min_size=1, max_size=3), st.sampled_from([NS, None]))
def test_the_c_walk_gives_what_the_python_walk_gives_for_any_entry(bodies, namespace):
    body = "".join(f"<Ntry>{b}</Ntry>" for b in bodies)
    href = namespace.encode() if namespace else None
    for element in _entries(body, namespace):
        assert pull_values(element, ENTRY_PLAN, href) == \
            python_pull_values(element, ENTRY_PLAN, href)


@needs_c
def test_the_c_walk_reads_texts_the_way_lxml_gives_them():
    body = ("<Ntry><Amt Ccy='E&#x55;R'> 1<![CDATA[2]]>.5<!-- c -->0 </Amt><CdtDbtInd/>"
            "<Sts>  </Sts><Sts>BOOK<X/>ignored</Sts><AddtlNtryInf>&lt;&amp;&#20013;&gt;"
            "</AddtlNtryInf><NtryDtls><TxDtls><RmtInf><Ustrd>a</Ustrd><Ustrd> </Ustrd>"
            "<Ustrd><![CDATA[b]]></Ustrd></RmtInf></TxDtls><TxDtls/></NtryDtls></Ntry>")
    (element,) = _entries(body, NS)
    values = pull_values(element, ENTRY_PLAN, NS.encode())
    assert values == python_pull_values(element, ENTRY_PLAN, NS.encode())
    assert values[0] == ("12.50", "EUR")
    assert values[1] is None and values[3] == "BOOK"
    assert values[14] == "<&中>"
    details = values[15]
    assert len(details) == 2 and details[0][15] == ["a", "b"] and details[1] == [None] * 18


# -- maker ------------------------------------------------------------------------------------

EUR = currency("EUR")
_optional = st.none() | st.text(max_size=8)


@st.composite
def details(draw: st.DrawFn) -> EntryDetail:
    return EntryDetail(**{f.name: draw(_optional) for f in dataclasses.fields(EntryDetail)
                          if f.name != "amount"},
                       amount=draw(st.none() | st.just(Money(Decimal("1.25"), EUR))))


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@given(st.lists(details(), max_size=3), _optional, st.booleans(),
       st.sampled_from(list(EntryStatus)), st.none() | st.dates())
def test_made_entries_equal_entries_built_by_their_constructor(parts, text, flag, status, day):
    names = tuple(reversed(_fields(StatementEntry)))  # any order will do, stated once
    values = {"key": EntryKey("composite", text or ""), "amount": Money(Decimal("-3.10"), EUR),
              "status": status, "booking_date": day, "value_date": date(2026, 12, 1),
              "bank_reference": text, "end_to_end_id": text, "counterparty_name": text,
              "counterparty_account": None, "remittance": text,
              "source": Source(origin="f.xml", where=text or ""), "raw": b"",
              "account_servicer_reference": text, "instruction_id": None, "is_reversal": flag,
              "bank_transaction_code": text, "transactions": tuple(parts)}
    built = StatementEntry(**values)
    for make in (maker, python_maker):
        made = make(StatementEntry, names)(*(values[n] for n in names))
        assert made == built and repr(made) == repr(built) and hash(made) == hash(built)
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.remittance = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("make", [maker, python_maker])
def test_a_maker_refuses_what_it_cannot_build_safely(make):
    with pytest.raises(TypeError, match="__post_init__"):
        make(Money, ("amount", "currency"))  # Money checks itself: never skip that
    with pytest.raises(TypeError, match="its fields"):
        make(Source, ("origin",))
    with pytest.raises(TypeError, match="not a dataclass"):
        make(dict, ())
    source = make(Source, ("where", "origin"))
    assert source("line 3", "a.sta") == Source(origin="a.sta", where="line 3")
    with pytest.raises(TypeError, match="takes 2 values, 1 given"):
        source("line 3")


# -- whole files: every sample, compiled and in Python ----------------------------------------

def _camt_samples() -> list:
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.rglob("*.xml")
                  if "xsd" not in p.parts and b"camt.05" in p.read_bytes()[:4096])


_READ_ALL = """
import json, sys
from bankgate.errors import FormatError
from bankgate.formats.iso20022.camt import read_camt
from bankgate.formats import speedups
assert not speedups.COMPILED
out = {}
for path in sys.argv[1:]:
    try:
        out[path] = repr(list(read_camt(open(path, "rb"), path)))
    except FormatError as exc:
        out[path] = "error: " + str(exc)
print(json.dumps(out))
"""


@needs_c
@pytest.mark.skipif(not _camt_samples(), reason="shared/samples is not beside this checkout")
def test_every_sample_reads_the_same_compiled_and_in_python():
    paths = [str(p) for p in _camt_samples()]
    done = subprocess.run([sys.executable, "-c", _READ_ALL, *paths], check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "BANKGATE_PURE_PYTHON": "1"}, timeout=120)
    in_python = json.loads(done.stdout)
    read = 0
    for path in paths:
        try:
            compiled = repr(list(read_camt(open(path, "rb"), path)))
            read += 1
        except FormatError as exc:
            compiled = "error: " + str(exc)
        assert compiled == in_python[path], path
    assert read >= 10  # most samples are statements we read, not refusals
