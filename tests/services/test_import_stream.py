"""`bankgate import` of large camt.053 files, streamed: whole or nothing, once (L-06, K-14)."""

from __future__ import annotations

import hashlib

import pytest

from bankgate.bootstrap import build_app
from bankgate.errors import FormatError
from bankgate.services.statements import import_statement_path
from bankgate.settings import Settings
from tests.formats.camt_files import entry, write_camt053

COUNT = 12_000  # over the stream buffer (10,000): the census pass and streaming are used


@pytest.fixture
def app(store_url):
    accounts = [{"id": "de-eur", "bank": "demo", "number": "DE89370400440532013000",
                 "currency": "EUR", "name": "Demo GmbH"}]
    application = build_app(Settings(db_url=store_url), {"accounts": accounts})
    yield application
    application.close()


def _twins(n: int):
    return entry(0, ref=None, cents=900, name="Twin KG") if n in (5, 11_500) else None


def test_a_large_statement_is_stored_once_checked_and_archived_by_hash(app, tmp_path):
    path = tmp_path / "large.xml"
    write_camt053(path, COUNT, _twins)
    first = import_statement_path(uow=app.uow, path=path, now=app.now)
    again = import_statement_path(uow=app.uow, path=path, now=app.now)
    assert (first.statements, first.entries, first.new_entries) == (1, COUNT, COUNT)
    assert first.issues == ()  # opening + entries = closing
    assert (again.entries, again.new_entries, again.raw_sha256) == (COUNT, 0, first.raw_sha256)
    with app.uow() as unit:
        assert unit.statements.entry_count("de-eur") == COUNT  # the twins stay two
        assert unit.statements.raw_file(first.raw_sha256) == path.read_bytes()
        [header] = unit.statements.list_statements("de-eur")
    assert first.raw_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert header["entry_count"] == COUNT


def test_a_large_file_broken_near_its_end_stores_nothing(app, tmp_path):
    path = tmp_path / "broken.xml"

    def bad_last(n: int):
        return (entry(n)[0].replace("Ccy='EUR'>", "Ccy='EUR'>x", 1), 0) if n == COUNT - 1 \
            else None

    write_camt053(path, COUNT, bad_last)
    with pytest.raises(FormatError, match=f"Ntry\\[{COUNT}\\]/Amt"):
        import_statement_path(uow=app.uow, path=path, now=app.now)
    with app.uow() as unit:
        assert unit.statements.entry_count() == 0
        assert unit.statements.list_statements() == []
        assert unit.statements.raw_file(hashlib.sha256(path.read_bytes()).hexdigest()) is None


def test_a_large_statement_that_does_not_add_up_is_stored_with_the_finding(app, tmp_path):
    path = tmp_path / "off.xml"
    write_camt053(path, COUNT, closing_delta=-1)
    done = import_statement_path(uow=app.uow, path=path, now=app.now)
    [issue] = done.issues
    assert "but the closing balance is" in issue and done.new_entries == COUNT
    with app.uow() as unit:
        [header] = unit.statements.list_statements("de-eur")
    assert "closing balance" in header["issues"]
