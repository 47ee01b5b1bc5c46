"""The sandbox SFTP bank: what it writes is valid ISO 20022, what it reads is read safely.

Files written by the bank are validated against the official XSDs in shared/samples/xsd
(pain.002.001.03, camt.053.001.02, camt.054.001.02); payment files reach it over real SFTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from bankgate.connectors.files import FilesChannel, connect
from bankgate.errors import FormatError
from bankgate.sandbox.run import RunningSandbox, start_sandbox
from bankgate.sandbox.sftp import ensure_ssh_keys
from bankgate.sandbox.sftp_files import read_pain001
from tests.connectors.world import NUMBERS, a_batch, a_line, our_account, small_world
from tests.samples import SAMPLES, needs_samples


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(small_world(), state_dir=tmp_path, settle_delay_s=0.05) as running:
        yield running


@pytest.fixture
def boc(bank: RunningSandbox) -> Iterator[FilesChannel]:
    channel = connect("boc", bank.sftp.client_options("boc"))
    yield channel
    channel.close()


def _schema(name: str) -> etree.XMLSchema:
    path = SAMPLES / "xsd" / "iso20022" / f"{name}.xsd"
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


@needs_samples
def test_every_file_the_bank_writes_is_valid_against_the_official_xsd(
        bank: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor), a_line(debtor, payee=NUMBERS["boc"][2], name="已销户有限公司"),
             a_line(debtor, payee=NUMBERS["cmb"][2], name="已销户有限公司", payee_bank="cmb")]
    boc.submit(a_batch(debtor, lines), debtor, lines)
    bank.settle_now()
    boc.inbound()  # listing lets the bank write what is due
    schemas = {"PAIN002": _schema("pain.002.001.03"), "CAMT053": _schema("camt.053.001.02"),
               "CAMT054": _schema("camt.054.001.02")}
    seen = set()
    for path in sorted(bank.sftp.bank.login_of("boc").inbound.glob("*.xml")):
        kind = path.name.split("_", 1)[0]
        schema = schemas[kind]
        document = etree.parse(str(path))
        assert schema.validate(document), (path.name, schema.error_log)
        seen.add(kind)
    assert seen == set(schemas)


def test_the_bank_reads_a_pain001_with_a_doctype_as_hostile_and_books_nothing(
        bank: RunningSandbox, boc: FilesChannel) -> None:
    hostile = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">&x;'
               b'</Document>')
    with pytest.raises(FormatError, match="DOCTYPE"):
        read_pain001(hostile, "hostile.xml")
    before = dict(bank.ledger.debit_bookings())
    boc.client.upload_atomic("out", "PAIN001_hostile.xml", hostile)
    answer = next(p for p in bank.sftp.bank.login_of("boc").inbound.glob("PAIN002_*hostile*"))
    text = answer.read_text(encoding="utf-8")
    assert "<GrpSts>RJCT</GrpSts>" in text and "<Cd>FF01</Cd>" in text and "passwd" not in text
    assert bank.ledger.debit_bookings() == before


def test_a_temporary_upload_is_never_picked_up(bank: RunningSandbox, boc: FilesChannel) -> None:
    debtor = our_account("boc")
    lines = [a_line(debtor)]
    login = bank.sftp.bank.login_of("boc")
    (login.outbound / "PAIN001_waiting.xml.part").write_bytes(b"<not yet/>")
    assert bank.sftp.bank.pick_up(login) == 0
    boc.submit(a_batch(debtor, lines), debtor, lines)
    assert bank.ledger.debit_bookings().get(lines[0].order.instruction_id) == 1
    assert not list(login.inbound.glob("*waiting*"))


def test_ssh_keys_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = ensure_ssh_keys(tmp_path / "ssh")
    again = ensure_ssh_keys(tmp_path / "ssh")
    assert first == again and first.host_key.read_bytes() == again.host_key.read_bytes()
    assert first.client_key.stat().st_mode & 0o077 == 0
    assert first.host_public.read_text().startswith("ssh-ed25519 ")
