"""The host API channel's reads, configuration and TLS against the real sandbox banks."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bankgate.connectors import open_channel
from bankgate.connectors.base import Capability
from bankgate.connectors.hostapi import CAPABILITIES, HostApiConfig
from bankgate.crypto.pki import issue_test_pki
from bankgate.domain import BalanceType, EntryKey, Outcome
from bankgate.errors import BankRejected, BankUnavailable, ConfigError
from bankgate.sandbox.ledger import SHANGHAI
from bankgate.sandbox.run import RunningSandbox
from tests.connectors.world import UNKNOWN_NUMBER, a_batch, a_line, open_bank, our_account


def test_balances_are_ledger_and_available_per_account_in_our_account_ids(
        sandbox: RunningSandbox):
    channel = open_bank(sandbox, "boc")
    try:
        balances = channel.balances([our_account("boc")])
    finally:
        channel.close()
    assert [(b.account, b.type) for b in balances] == [
        ("boc-cny", BalanceType.INTERIM_BOOKED), ("boc-cny", BalanceType.INTERIM_AVAILABLE)]
    minor = sandbox.ledger.balance_minor("boc", our_account("boc").number.reveal())
    assert balances[0].amount.to_minor() == minor
    assert isinstance(balances[0].amount.amount, Decimal) and balances[0].as_of.tzinfo


def test_transactions_and_the_statement_carry_the_bank_serial_and_add_up(
        sandbox: RunningSandbox):
    ours = our_account("cmb")
    channel = open_bank(sandbox, "cmb")
    try:
        line = a_line(ours, amount="12.50")
        channel.submit(a_batch(ours, [line]), ours, [line])
        today = sandbox.faults.now("cmb").astimezone(SHANGHAI).date()  # the bank's day
        entries = list(channel.transactions(ours, today, today))
        statement = channel.statements(ours, today)
    finally:
        channel.close()
    mine = [e for e in entries if e.end_to_end_id == line.order.instruction_id]
    assert len(mine) == 1 and mine[0].amount.amount == Decimal("-12.50")
    assert mine[0].key == EntryKey("bank_reference", mine[0].bank_reference or "")
    assert statement.opening and statement.closing and statement.on == today
    total = statement.opening.amount.amount + sum(e.amount.amount for e in statement.entries)
    assert total == statement.closing.amount.amount and statement.raw


def test_an_account_the_bank_does_not_hold_is_rejected_on_a_read(sandbox: RunningSandbox):
    channel = open_bank(sandbox, "icbc")
    try:
        with pytest.raises(BankRejected) as refused:
            channel.balances([our_account("icbc", UNKNOWN_NUMBER)])
    finally:
        channel.close()
    assert refused.value.bank_code == "E2010" and "(AC02)" in str(refused.value)


def test_status_queries_are_chunked_at_500_ids(sandbox: RunningSandbox):
    """L-08: CMB allows at most 500 ids per query; we hold every bank to it."""
    channel = open_bank(sandbox, "cmb")
    try:
        ids = [f"{n:032x}" for n in range(1201)]
        reports = channel.status(ids)  # type: ignore[arg-type]
    finally:
        channel.close()
    assert [r.instruction_id for r in reports] == ids
    assert {(r.outcome, r.bank_code) for r in reports} == {(Outcome.NOT_FOUND, "NOT_FOUND")}


def test_B20_rate_limited_reads_honour_retry_after_then_succeed(sandbox: RunningSandbox):
    sandbox.set_faults(bank="icbc", retry_after_s=1,
                       script=[{"op": "balances", "fault": "rate_limited"}])
    channel = open_bank(sandbox, "icbc")
    started = time.monotonic()
    try:
        assert channel.balances([our_account("icbc")])
    finally:
        channel.close()
    assert time.monotonic() - started >= 0.95  # waited as the bank asked


def test_reads_that_keep_failing_are_unavailable_not_unknown(sandbox: RunningSandbox):
    sandbox.set_faults(bank="icbc", script=[{"op": "balances", "fault": "busy"}] * 5)
    channel = open_bank(sandbox, "icbc", max_attempts=2)
    try:
        with pytest.raises(BankUnavailable) as busy:
            channel.balances([our_account("icbc")])
    finally:
        channel.close()
    assert busy.value.bank_code == "E9001" and busy.value.raw


def test_a_dead_bank_is_unavailable(sandbox: RunningSandbox):
    channel = open_bank(sandbox, "icbc", base_url="https://127.0.0.1:9/icbc/v1",
                        max_attempts=1)
    try:
        with pytest.raises(BankUnavailable, match="cannot reach"):
            channel.balances([our_account("icbc")])
    finally:
        channel.close()


def test_an_untrusted_bank_certificate_is_refused(sandbox: RunningSandbox, tmp_path: Path):
    """A-04 (client side): a bank whose certificate our CA did not issue is never talked to."""
    other_ca = issue_test_pki(tmp_path / "other").ca_cert
    channel = open_bank(sandbox, "icbc", ca_file=str(other_ca), max_attempts=1)
    try:
        with pytest.raises(BankUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            channel.balances([our_account("icbc")])
    finally:
        channel.close()


def test_A04_a_revoked_bank_certificate_is_refused_when_we_check_the_crl(tmp_path: Path):
    """A-04 (client side): the CA revoked the bank's server certificate; with the CA's CRL
    configured (the sandbox's options name it) the gateway never talks to that bank."""
    from bankgate.crypto.pki import load_certificate, write_crl
    from bankgate.sandbox.run import start_sandbox
    from tests.connectors.world import small_world

    pki = issue_test_pki(tmp_path, hosts=("127.0.0.1", "localhost"))
    write_crl(pki, [load_certificate(pki.server_cert)])
    with start_sandbox(small_world(), state_dir=tmp_path, settle_delay_s=0.05) as revoked:
        channel = open_bank(revoked, "icbc", max_attempts=1)
        unchecked = open_bank(revoked, "icbc", max_attempts=1, crl_file=None)
        try:
            with pytest.raises(BankUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                channel.balances([our_account("icbc")])
            assert unchecked.balances([our_account("icbc")])  # the CRL is what refuses
        finally:
            channel.close()
            unchecked.close()


def test_receipts_are_offered_and_capabilities_say_so(sandbox: RunningSandbox):
    """Issue 7: the host API banks issue electronic receipts (tests/services/test_receipts)."""
    channel = open_bank(sandbox, "icbc")
    try:
        assert channel.capabilities == CAPABILITIES
        assert Capability.RECEIPTS in CAPABILITIES
        assert list(channel.receipts(our_account("icbc"), date(2000, 1, 3))) == []
    finally:
        channel.close()


#: The keys every host API bank needs: where, whose CA, mutual TLS, signatures both ways.
MINIMAL = {"base_url": "https://bank.example/icbc/v1", "ca_file": "ca.pem",
           "client_cert": "client.pem", "client_key": "client-key.pem",
           "signature_algorithm": "RSA-SHA256", "signing_key": "gateway-key.pem",
           "bank_public_key": "bank.pem"}


def test_configuration_is_read_with_its_defaults():
    config = HostApiConfig.from_mapping("icbc", {**MINIMAL,
                                                 "base_url": "https://bank.example/icbc/v1/"})
    assert (config.base_url, config.dialect, config.max_attempts) == (
        "https://bank.example/icbc/v1", "icbc", 3)
    assert (config.http.read_timeout_s, config.retry.max_total_s) == (10.0, 30.0)
    assert config.callback_url is None and config.signing_key_password_file is None
    assert (config.signature_algorithm.value, config.clock_window_s) == ("RSA-SHA256", 300.0)


@pytest.mark.parametrize(("extra", "says"), [
    ({"base_url": "http://bank.example"}, "banks.icbc.base_url: must be an https URL"),
    ({"verify": False}, "banks.icbc: unknown key 'verify'"),
    ({"ca_file": ""}, "banks.icbc.ca_file: required"),
    ({"dialect": "abc"}, "banks.icbc.dialect: 'abc' is not one of boc, cmb, icbc"),
    ({"timeout_s": "5"}, "banks.icbc.timeout_s: expected a number of seconds"),
    ({"timeout_s": 0}, "banks.icbc.timeout_s: 0 is out of range"),
    ({"max_attempts": 0}, "banks.icbc.max_attempts: expected a whole number from 1 to 20"),
    ({"max_attempts": True}, "banks.icbc.max_attempts"),
    ({"client_cert": None, "client_key": "k.pem"},
     "banks.icbc.client_key: given without client_cert"),
    ({"callback_url": "ftp://x"}, "banks.icbc.callback_url: must be an https or http URL"),
    ({"client_cert": None, "client_key": None},
     "banks.icbc.client_cert: required (mutual TLS)"),
    ({"signing_key": ""}, "banks.icbc.signing_key: required (every request is signed)"),
    ({"bank_public_key": None}, "banks.icbc.bank_public_key: required"),
    ({"signature_algorithm": None}, "banks.icbc.signature_algorithm: required"),
    ({"signature_algorithm": "HS256"},
     "banks.icbc.signature_algorithm: 'HS256' is not one of"),
    ({"clock_window_s": 0}, "banks.icbc.clock_window_s: 0 is out of range"),
])
def test_configuration_errors_name_the_bank_and_the_key(extra, says):
    mapping = {k: v for k, v in {**MINIMAL, **extra}.items() if v is not None}
    with pytest.raises(ConfigError) as refused:
        open_channel("hostapi", "icbc", mapping)
    assert says in str(refused.value)


def test_a_missing_ca_file_is_a_configuration_error(sandbox: RunningSandbox, tmp_path: Path):
    with pytest.raises(ConfigError, match="ca_file"):
        open_bank(sandbox, "icbc", ca_file=str(tmp_path / "none.pem"))


@pytest.mark.parametrize("key", ["signing_key", "bank_public_key", "signing_key_password_file"])
def test_missing_signing_material_is_a_configuration_error_on_connect(
        sandbox: RunningSandbox, tmp_path: Path, key: str):
    with pytest.raises(ConfigError, match=f"banks.icbc.signing_key|banks.icbc.{key}"):
        open_bank(sandbox, "icbc", **{key: str(tmp_path / "none.pem")})


def test_a_key_of_another_algorithm_than_configured_is_refused_on_connect(
        sandbox: RunningSandbox):
    """A bank cannot be talked into another algorithm: an SM2 key for an RSA bank is refused."""
    sm2 = sandbox.keys["cmb"].gateway
    with pytest.raises(ConfigError, match=r"banks\.icbc\.signing_key"):
        open_bank(sandbox, "icbc", signing_key=str(sm2.key_file),
                  signing_key_password_file=str(sm2.password_file))



def test_an_answer_over_the_size_cap_is_not_read(sandbox: RunningSandbox):
    """An oversize answer is an error, not a memory blow-up (here: a 1 KiB cap, 500 ids)."""
    channel = open_bank(sandbox, "boc", max_response_bytes=1024, max_attempts=1)
    try:
        with pytest.raises(BankUnavailable, match="1024"):
            channel.status([f"{n:032x}" for n in range(500)])  # type: ignore[misc]
    finally:
        channel.close()


def test_a_callback_is_read_as_a_report_and_a_forged_shape_is_refused(sandbox: RunningSandbox):
    channel = open_bank(sandbox, "cmb")
    body = ('{"callback_id": "cb1", "bank": "cmb", "instruction_id": "abc", "status": "FIN-S",'
            ' "error_code": null, "error_message": null, "at": "2026-11-23T08:00:00Z"}')
    try:
        report = channel.read_callback(body.encode())
        for bad in (b"not json", b'{"bank": "icbc", "callback_id": "x"}', b"[]",
                    body.replace('"cb1"', "1").encode()):
            with pytest.raises(BankRejected, match="not a valid callback"):
                channel.read_callback(bad)
    finally:
        channel.close()
    assert (report.outcome, report.raw) == (Outcome.SETTLED, body.encode())


def test_B12_the_sandbox_banks_callback_says_what_was_paid_and_the_channel_reads_it():
    """The callback body the sandbox bank renders carries amount, currency and payee
    account, and the channel reads them as Money and an AccountNumber for the B-12 check."""
    from datetime import UTC, datetime

    from bankgate.connectors.hostapi.banks import DIALECTS
    from bankgate.connectors.hostapi.wire import to_status_report
    from bankgate.domain import AccountNumber, Money, currency
    from bankgate.sandbox.dialects import dialect as bank_dialect
    from bankgate.sandbox.records import Order, OrderLine, StatusChange, StatusMeaning
    from bankgate.sandbox.wire import render_callback

    line = OrderLine(instruction_id="abc", amount_minor=120050, payee_name="上海某某贸易有限公司",
                     payee_account="6222020200009000001", payee_bank="icbc", remittance="INV-1")
    order = Order(bank="icbc", batch_id="b1", bank_reference="R1", debtor_account="1",
                  debtor_name="x", currency="CNY", line=line, status=StatusMeaning.SETTLED,
                  error=None, error_message=None, updated_at=datetime(2026, 11, 23, tzinfo=UTC),
                  callback_url=None)
    body = render_callback(StatusChange(callback_id="cb1", order=order), bank_dialect("icbc"))
    report = to_status_report(body, DIALECTS["icbc"])
    assert report.amount == Money(Decimal("1200.50"), currency("CNY"))
    assert report.creditor_account == AccountNumber.parse("6222020200009000001")
