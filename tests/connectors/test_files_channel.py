"""The file channel against the real sandbox SFTP bank (asyncssh server on 127.0.0.1:0).

The bank's ledger is the ground truth for "booked once"; the bank's `out/` directory for
"one file per batch". Cases: K-12 and K-13 at the channel (resend = same file), B-17
(resumed read), path traversal in remote names, unknown host key, unknown client key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import pytest

from bankgate.connectors import open_channel
from bankgate.connectors.files import FilesChannel, UnsafeName, connect, outbound_name
from bankgate.domain import BalanceType, Outcome
from bankgate.errors import BankUnavailable, OutcomeUnknown
from bankgate.sandbox.ledger import SHANGHAI
from bankgate.sandbox.run import RunningSandbox
from tests.connectors.world import NUMBERS, a_batch, a_line, bookings, our_account


@pytest.fixture
def boc(sandbox: RunningSandbox) -> Iterator[FilesChannel]:
    channel = connect("boc", sandbox.sftp.client_options("boc"))
    yield channel
    channel.close()
    sandbox.sftp.faults.reset()


def _out(sandbox: RunningSandbox, bank: str = "boc") -> list[str]:
    return sorted(p.name for p in sandbox.sftp.bank.login_of(bank).outbound.iterdir())


def test_a_batch_goes_out_as_one_pain001_and_its_status_comes_back_in_pain002(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor), a_line(debtor, amount="0.01")]
    batch = a_batch(debtor, lines)
    ack = boc.submit(batch, debtor, lines)
    assert ack.bank_reference == outbound_name(batch) in _out(sandbox)
    assert [r.outcome for r in ack.reports] == [Outcome.RECEIVED] * 2
    ids = [line.order.instruction_id for line in lines]
    assert [r.outcome for r in boc.status(ids)] == [Outcome.ACCEPTED] * 2
    sandbox.settle_now()
    settled = boc.status(ids)
    assert [(r.outcome, r.bank_code) for r in settled] == [(Outcome.SETTLED, "ACSC")] * 2
    assert all(b"pain.002" in r.raw for r in settled)
    assert [bookings(sandbox, line) for line in lines] == [1, 1]


def test_a_resend_of_the_same_batch_is_the_same_file_and_is_booked_once(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor)]
    batch = a_batch(debtor, lines)
    first = boc.submit(batch, debtor, lines)
    again = boc.submit(batch, debtor, lines)
    assert b'"already_there": false' in first.raw and b'"already_there": true' in again.raw
    assert _out(sandbox).count(outbound_name(batch)) == 1
    assert not [n for n in _out(sandbox) if n.endswith(".part")]
    assert bookings(sandbox, lines[0]) == 1


def test_other_bytes_under_a_batchs_name_are_never_overwritten_and_the_outcome_is_unknown(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor)]
    batch = a_batch(debtor, lines)
    boc.submit(batch, debtor, lines)
    held = (sandbox.sftp.bank.login_of("boc").outbound / outbound_name(batch)).read_bytes()
    changed = [a_line(debtor, amount="2.00")]
    same_id = replace(batch, instruction_ids=(changed[0].order.instruction_id,),
                      order_ids=(changed[0].order.id,), total=changed[0].order.amount)
    with pytest.raises(OutcomeUnknown, match="holds another file"):
        boc.submit(same_id, debtor, changed)
    assert (sandbox.sftp.bank.login_of("boc").outbound / outbound_name(batch)).read_bytes() \
        == held
    assert bookings(sandbox, changed[0]) == 0


def test_a_rejected_payment_and_a_returned_one_come_back_with_their_iso_reasons(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    closed_here = a_line(debtor, payee=NUMBERS["boc"][2], name="已销户有限公司")
    closed_there = a_line(debtor, payee=NUMBERS["cmb"][2], name="已销户有限公司",
                          payee_bank="cmb")
    lines = [closed_here, closed_there]
    boc.submit(a_batch(debtor, lines), debtor, lines)
    sandbox.settle_now()
    rejected, returned = boc.status([line.order.instruction_id for line in lines])
    assert (rejected.outcome, rejected.reason_code) == (Outcome.REJECTED, "AC04")
    assert (returned.outcome, returned.reason_code) == (Outcome.RETURNED, "AC04")
    assert b"camt.054" in returned.raw
    assert bookings(sandbox, closed_here) == 0 and bookings(sandbox, closed_there) == 1


def test_an_id_in_no_file_is_not_found_and_one_in_our_file_is_received(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    never_sent = a_line(debtor)
    assert boc.status([never_sent.order.instruction_id])[0].outcome is Outcome.NOT_FOUND


def test_the_statement_of_the_day_and_the_balance_come_from_the_newest_camt053(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor, amount="12.34")]
    boc.submit(a_batch(debtor, lines), debtor, lines)
    today = datetime.now(SHANGHAI).date()
    statement = boc.statements(debtor, today)
    ledger = sandbox.ledger.statement("boc", NUMBERS["boc"][0], today)
    assert statement.closing is not None and statement.opening is not None
    assert statement.closing.amount.to_minor() == ledger.closing_minor
    assert statement.opening.amount.to_minor() == ledger.opening_minor
    assert len(statement.entries) == len(ledger.entries)
    assert lines[0].order.instruction_id in {e.end_to_end_id for e in statement.entries}
    assert statement.raw.startswith(b"<?xml") and b"camt.053.001.02" in statement.raw
    booked, available = boc.balances([debtor])
    assert booked.account == debtor.id and booked.type is BalanceType.CLOSING_BOOKED
    assert booked.amount.to_minor() == sandbox.ledger.balance_minor("boc", NUMBERS["boc"][0])
    assert available.type is BalanceType.CLOSING_AVAILABLE and available.code == "CLAV"
    assert available.amount == booked.amount and available.account == debtor.id


def test_a_file_balance_is_as_of_when_the_bank_wrote_the_statement_not_midnight(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor, amount="1.00")]
    before = datetime.now(UTC).replace(microsecond=0)
    boc.submit(a_batch(debtor, lines), debtor, lines)
    today = datetime.now(SHANGHAI).date()
    statement = boc.statements(debtor, today)
    assert statement.created_at is not None and statement.created_at >= before
    for balance in boc.balances([debtor]):
        assert balance.as_of == statement.created_at  # camt Stmt/CreDtTm, not 00:00:00


def test_b17_a_read_cut_off_midway_resumes_at_its_offset_and_returns_the_whole_file(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor) for _ in range(40)]  # a pain.002 well over one read chunk
    batch = a_batch(debtor, lines)
    boc.submit(batch, debtor, lines)
    name = next(f.name for f, _ in boc.inbound().files if batch.id in f.name)
    whole = (sandbox.sftp.bank.login_of("boc").inbound / name).read_bytes()
    sandbox.sftp.faults.drop_read_after_bytes = 3000
    drops = sandbox.sftp.faults.drops
    fetched = boc.fetch(name)
    assert fetched.content == whole and len(whole) > 3000
    assert sandbox.sftp.faults.drops == drops + 1 and boc.client.resumes == 1


def test_a_remote_name_with_path_traversal_is_refused_and_never_fetched(
        sandbox: RunningSandbox, boc: FilesChannel) -> None:
    sandbox.sftp.faults.listed_names = ["../../etc/passwd", "..", "a\\..\\b", "x\x1b[2J"]
    listing = boc.inbound()
    assert set(listing.refused) == set(sandbox.sftp.faults.listed_names)
    assert not {f.name for f, _ in listing.files} & set(listing.refused)
    for name in ("../cmb/company/in/x", "in/../../x", "/etc/passwd"):
        with pytest.raises(UnsafeName, match="not a plain file name"):
            boc.fetch(name)


def test_the_bank_keeps_each_login_inside_its_own_home(sandbox: RunningSandbox,
                                                       boc: FilesChannel) -> None:
    cmb_file = sandbox.sftp.bank.login_of("cmb").inbound / "SECRET_camt053.xml"
    cmb_file.write_bytes(b"<x/>")
    with pytest.raises(FileNotFoundError):
        boc.client.read("../../cmb/company/in/SECRET_camt053.xml")
    with pytest.raises(BankUnavailable, match=r"write only out/NAME\.part"):
        boc.client.upload_atomic("in", "PAIN002_forged.xml", b"<x/>")
    assert not (sandbox.sftp.bank.login_of("boc").inbound / "PAIN002_forged.xml").exists()


def test_an_unknown_host_key_is_refused_before_anything_is_sent(
        sandbox: RunningSandbox, tmp_path: Path) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    options = {**sandbox.sftp.client_options("boc"), "host_key": stranger}
    channel = open_channel("files", "boc", options)
    try:
        with pytest.raises(BankUnavailable, match="refused"):
            channel.status(["X"])
        debtor = our_account("boc")
        lines = [a_line(debtor)]
        batch = a_batch(debtor, lines)
        with pytest.raises(BankUnavailable):
            channel.submit(batch, debtor, lines)
        assert outbound_name(batch) not in _out(sandbox)
    finally:
        channel.close()


def test_a_client_key_the_bank_does_not_know_is_refused(sandbox: RunningSandbox,
                                                        tmp_path: Path) -> None:
    key = tmp_path / "other_key"
    key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    channel = connect("boc", {**sandbox.sftp.client_options("boc"), "client_key": str(key)})
    try:
        with pytest.raises(BankUnavailable, match="refused"):
            channel.inbound()
    finally:
        channel.close()
