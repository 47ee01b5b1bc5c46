"""Broken input never escapes as anything but FormatError (RELIABILITY 2.5: "never a traceback").

Hypothesis mutates real sample files (truncates, flips bytes, splices) and every reader must
either read the result or refuse it with a FormatError naming the file.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bankgate.errors import FormatError
from bankgate.formats.iso20022.camt import read_camt
from bankgate.formats.iso20022.pain002 import read_pain002
from bankgate.formats.swift.mt940 import read_mt940

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
SEEDS = {
    "camt": SAMPLES / "camt054" / "fi-danske__camt.054.001.02.xml",
    "mt940": SAMPLES / "mt940" / "jejik__abnamro.sta",
    "pain002": SAMPLES / "pain002" / "postfinance__pain002p-rejected.xml",
}
READERS = {"camt": lambda s: list(read_camt(s, "fuzz")),
           "mt940": lambda s: list(read_mt940(s, "fuzz")),
           "pain002": lambda s: read_pain002(s, "fuzz")}
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/samples is not here")


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "flip", "splice", "drop"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "cut":
            del data[at:]
        elif kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "splice":
            data[at:at] = draw(st.binary(max_size=20))
        elif data:
            del data[at:at + draw(st.integers(1, 50))]
    return bytes(data)


@pytest.mark.parametrize("kind", sorted(SEEDS))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_files_read_or_raise_format_error_only(kind: str, data: st.DataObject):
    content = data.draw(mutated(SEEDS[kind].read_bytes()))
    try:
        READERS[kind](io.BytesIO(content))
    except FormatError as exc:
        assert str(exc).startswith("fuzz")
