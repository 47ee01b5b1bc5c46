"""`bankgate import`: statements stored once, whole or not at all (K-14, B-18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankgate.bootstrap import build_app
from bankgate.errors import FormatError, NotFound
from bankgate.services.statements import import_statement_file
from bankgate.settings import Settings

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
POSTFINANCE = SAMPLES / "camt053" / ("postfinance__camt.053_P_CH2909000000250094239_"
                                     "1110092698_0_2020112503071366.xml")
GENERIC = SAMPLES / "mt940" / "jejik__generic.sta"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/samples is not here")


@pytest.fixture
def app(store_url):
    accounts = [{"id": "pf-chf", "bank": "postfinance", "number": "CH2909000000250094239",
                 "currency": "CHF", "name": "Demo AG"},
                {"id": "generic-eur", "bank": "generic", "number": "11111111",
                 "currency": "EUR", "name": "Demo BV"}]
    application = build_app(Settings(db_url=store_url), {"accounts": accounts,
                                                         "policy": "straight-through"})
    yield application
    application.close()


def _import(app, path: Path, content: bytes | None = None):
    return import_statement_file(uow=app.uow, content=content or path.read_bytes(),
                                 origin=path.name, now=app.now)


def test_importing_the_same_file_twice_adds_nothing_the_second_time(app):
    first = _import(app, POSTFINANCE)
    again = _import(app, POSTFINANCE)
    assert (first.statements, first.entries, first.new_entries) == (1, 5, 5)
    assert (again.new_entries, again.raw_sha256) == (0, first.raw_sha256)
    assert first.issues and "closing balance" in first.issues[0]  # reported, not hidden
    with app.uow() as unit:
        assert unit.statements.entry_count("pf-chf") == 5


def test_two_overlapping_statements_add_each_entry_once(app):
    whole = GENERIC.read_bytes()
    first_half = whole.split(b"\n-\n")[0] + b"\n-\n"
    assert _import(app, GENERIC, first_half).new_entries == 1
    assert _import(app, GENERIC).new_entries == 1  # the first statement again, and one more
    with app.uow() as unit:
        assert unit.statements.entry_count("generic-eur") == 2


def test_a_file_for_an_account_we_do_not_hold_stores_nothing(app):
    other = SAMPLES / "camt053" / "genkgo__camt053.v2.multi.statement.xml"
    with pytest.raises(NotFound, match="not one of ours"):
        _import(app, other)
    with app.uow() as unit:
        assert unit.statements.entry_count() == 0


def test_a_broken_file_stores_nothing(app):
    with pytest.raises(FormatError):
        _import(app, POSTFINANCE, POSTFINANCE.read_bytes()[:4000])
    with app.uow() as unit:
        assert unit.statements.entry_count() == 0
