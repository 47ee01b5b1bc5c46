"""Collecting a file bank's files exactly once (B-17, B-18), on SQLite and PostgreSQL.

Each test has its own sandbox SFTP bank (a fresh `in/`), and a gateway whose boc is the
file channel; the bank side of a test writes into the bank's directories as a bank would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bankgate.bootstrap import App, build_app
from bankgate.connectors.files import FilesChannel
from bankgate.errors import BankUnavailable
from bankgate.sandbox.run import RunningSandbox, start_sandbox
from bankgate.services.files import collect_files, file_channel
from bankgate.settings import Settings
from tests.connectors.world import COMPANY, NUMBERS, a_batch, a_line, our_account, small_world
from tests.samples import SAMPLES, needs_samples

TRUNCATED = (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
             b'camt.053.001.02"><BkToCstmrStmt><Stmt><Id>CUT')


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(small_world(), state_dir=tmp_path / "sandbox",
                       settle_delay_s=0.05) as running:
        yield running


def _gateway(store_url: str, bank: RunningSandbox, **options: Any) -> App:
    config = {"banks": {"boc": {"kind": "files", **bank.sftp.client_options("boc"),
                                **options}},
              "accounts": [{"id": "boc-cny", "bank": "boc", "number": NUMBERS["boc"][0],
                            "currency": "CNY", "name": COMPANY}]}
    return build_app(Settings(db_url=store_url), config)


@pytest.fixture
def app(store_url: str, bank: RunningSandbox) -> Iterator[App]:
    gateway = _gateway(store_url, bank)
    yield gateway
    gateway.close()


def _pay(app: App, bank: RunningSandbox, count: int = 3) -> None:
    """A batch straight through the channel, booked and settled by the bank."""
    channel = file_channel(app.channels, "boc")
    assert isinstance(channel, FilesChannel)
    debtor = our_account("boc")
    lines = [a_line(debtor, amount=f"{n + 1}.00") for n in range(count)]
    channel.submit(a_batch(debtor, lines), debtor, lines)
    bank.settle_now()


def _collect(app: App) -> Any:
    return collect_files(uow=app.uow, channel=file_channel(app.channels, "boc"), now=app.now)


def _inbound(bank: RunningSandbox) -> Path:
    return bank.sftp.bank.login_of("boc").inbound


def _rows(app: App, name: str) -> list[Any]:
    with app.uow() as unit:
        return unit.transfers.by_name("boc", "in", name)


def _entries(app: App) -> int:
    with app.uow() as unit:
        return unit.statements.entry_count("boc-cny")


def test_b18_the_same_statement_file_delivered_twice_adds_nothing_the_second_time(
        app: App, bank: RunningSandbox) -> None:
    _pay(app, bank)
    first = _collect(app)
    held = _entries(app)
    assert first.processed >= 2 and held == 3
    newest = sorted(_inbound(bank).glob("CAMT053_*.xml"))[-1]
    (_inbound(bank) / f"COPY_{newest.name}").write_bytes(newest.read_bytes())
    again = _collect(app)
    assert (again.duplicates, again.processed, again.new_entries) == (1, 0, 0)
    assert _entries(app) == held
    (copy,) = _rows(app, f"COPY_{newest.name}")
    assert copy.state == "duplicate"
    third = _collect(app)
    assert third.processed == third.duplicates == 0 and third.skipped == third.listed


def test_b18_another_content_under_a_known_name_is_flagged_as_conflict_and_kept(
        app: App, bank: RunningSandbox) -> None:
    _pay(app, bank)
    _collect(app)
    held = _entries(app)
    target = sorted(_inbound(bank).glob("CAMT053_*.xml"))[0]
    forged = target.read_bytes().replace(b"<Sts>BOOK</Sts>", b"<Sts>BOOK</Sts> ")
    forged = forged.replace(b"CRDT", b"DBIT") if forged == target.read_bytes() else forged
    target.write_bytes(forged + b"\n<!-- a second version -->\n")
    result = _collect(app)
    assert result.conflicts == 1 and result.processed == 0
    first, second = _rows(app, target.name)
    assert (first.state, second.state) == ("processed", "conflict")
    assert second.sha256 != first.sha256 and "other content" in (second.detail or "")
    with app.uow() as unit:
        assert unit.transfers.content(second) == target.read_bytes()  # raw kept
        assert unit.audit.count("file.conflict") == 1
    assert _entries(app) == held


def test_b17_a_download_cut_off_midway_resumes_and_each_file_is_processed_once(
        app: App, bank: RunningSandbox) -> None:
    _pay(app, bank, count=40)
    bank.sftp.faults.drop_read_after_bytes = 2500
    result = _collect(app)
    assert bank.sftp.faults.drops == 1
    channel = file_channel(app.channels, "boc")
    assert isinstance(channel, FilesChannel) and channel.client.resumes >= 1
    names = sorted(p.name for p in _inbound(bank).iterdir() if not p.name.startswith("."))
    assert result.processed == len(names)
    assert all(len(_rows(app, n)) == 1 for n in names)
    assert _collect(app).processed == 0


def test_b17_a_download_that_fails_for_good_leaves_no_record_and_the_next_run_takes_it(
        store_url: str, bank: RunningSandbox) -> None:
    app = _gateway(store_url, bank, max_attempts=1)
    try:
        _pay(app, bank, count=40)
        names = sorted(p.name for p in _inbound(bank).iterdir() if not p.name.startswith("."))
        big = max(names, key=lambda n: (_inbound(bank) / n).stat().st_size)
        bank.sftp.faults.drop_read_after_bytes = 2500
        with pytest.raises(BankUnavailable):
            _collect(app)
        assert _rows(app, big) == []
        result = _collect(app)
        assert result.processed >= 1
        assert all(len(_rows(app, n)) == 1 for n in names)
        assert all(r.state == "processed" for n in names for r in _rows(app, n))
    finally:
        app.close()


def test_an_unreadable_bank_file_is_kept_and_flagged_never_lost(
        app: App, bank: RunningSandbox) -> None:
    (_inbound(bank) / "CAMT053_20261201_broken.xml").write_bytes(TRUNCATED)
    result = _collect(app)
    assert result.unreadable == 1
    (row,) = _rows(app, "CAMT053_20261201_broken.xml")
    assert row.state == "unreadable" and "not well-formed" in (row.detail or "")
    with app.uow() as unit:
        assert unit.transfers.content(row) == TRUNCATED


def test_hostile_names_in_the_bank_listing_are_refused_audited_and_not_fetched(
        app: App, bank: RunningSandbox) -> None:
    bank.sftp.faults.listed_names = ["../../../etc/shadow"]
    result = _collect(app)
    assert result.refused_names == ["../../../etc/shadow"]
    with app.uow() as unit:
        assert unit.audit.count("file.name_refused") == 1
        assert all(".." not in t.name for t in unit.transfers.all())


def test_a_file_over_the_size_limit_is_not_fetched_and_the_refusal_is_audited(
        store_url: str, bank: RunningSandbox) -> None:
    app = _gateway(store_url, bank, max_file_bytes=1024)
    try:
        _pay(app, bank, count=20)
        result = _collect(app)
        big = sorted(p.name for p in _inbound(bank).iterdir()
                     if not p.name.startswith(".") and p.stat().st_size > 1024)
        assert big and [n for n in result.too_large if "out/" not in n] == big
        assert all(_rows(app, name) == [] for name in big)
        with app.uow() as unit:
            assert unit.audit.count("file.too_large") == 1
    finally:
        app.close()


@needs_samples
def test_an_mt940_file_from_the_bank_is_imported_once_and_answers_statements(
        store_url: str, bank: RunningSandbox) -> None:
    """A real MT940 (ABN AMRO sample, two statements) dropped in `in/` by the bank."""
    config = {"banks": {"boc": {"kind": "files", **bank.sftp.client_options("boc")}},
              "accounts": [{"id": "abn-eur", "bank": "boc", "number": "517852257",
                            "currency": "EUR", "name": "ABN AMRO sample holder"}]}
    app = build_app(Settings(db_url=store_url), config)
    try:
        sample = (SAMPLES / "mt940" / "cmxl__mt940-abnamro.txt").read_bytes()
        (_inbound(bank) / "MT940_20110524.sta").write_bytes(sample)
        result = _collect(app)
        assert (result.processed, result.new_entries) == (1, 10)
        assert _collect(app).new_entries == 0
        with app.uow() as unit:
            account = unit.accounts.get("abn-eur")
        channel = file_channel(app.channels, "boc")
        assert isinstance(channel, FilesChannel)
        statement = channel.statements(account, date(2011, 5, 24))
        assert statement.closing is not None and str(statement.closing.amount.amount) == \
            "1849.75"
        assert len(statement.entries) == 2 and statement.raw == sample
    finally:
        app.close()
