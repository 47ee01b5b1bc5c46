"""The host API channel against the real sandbox bank over TLS (B-01…B-04, B-20, L-08)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bankgate.connectors import open_channel
from bankgate.errors import BankUnavailable, ConfigError, OutcomeUnknown
from bankgate.sandbox.demo_world import demo_world
from bankgate.sandbox.run import start_sandbox
from bankgate.services.accounts import account_from_mapping


@pytest.fixture
def bank(tmp_path: Path):
    world = demo_world(seed=7)
    with start_sandbox(world, state_dir=tmp_path / "sb", settle_delay_s=0.05) as running:
        yield running, world


def _channel(running, world, **extra):
    spec = world.bank("icbc")
    return open_channel("hostapi", "icbc", {"base_url": running.url("icbc"),
                                            "ca_file": str(running.pki.ca_cert),
                                            "dialect": spec.dialect, "timeout_s": 2.0,
                                            "backoff_s": 0.01, **extra})


def _account(world):
    acct = next(a for a in world.company_accounts() if a.bank == "icbc")
    return account_from_mapping({"id": "icbc-cny", "bank": "icbc", "number": acct.number,
                                 "currency": acct.currency, "name": acct.holder}, where="t")


def test_balances_come_back_as_ledger_and_available(bank):
    running, world = bank
    channel = _channel(running, world)
    try:
        balances = channel.balances([_account(world)])
    finally:
        channel.close()
    assert [b.type.value for b in balances] == ["interim_booked", "interim_available"]
    assert balances[0].amount.to_minor() == running.ledger.balance_minor(
        "icbc", _account(world).number.reveal())


def test_B20_rate_limited_reads_honour_retry_after_then_succeed(bank):
    running, world = bank
    running.set_faults(bank="icbc", script=[{"op": "balances", "fault": "rate_limited"}],
                       retry_after_s=1)
    channel = _channel(running, world)
    started = time.monotonic()
    try:
        assert channel.balances([_account(world)])
    finally:
        channel.close()
    assert time.monotonic() - started >= 0.9  # waited as the bank asked


def test_reads_that_keep_failing_are_unavailable_not_unknown(bank):
    running, world = bank
    running.set_faults(bank="icbc", script=[{"op": "balances", "fault": "busy"}] * 5)
    channel = _channel(running, world, max_attempts=2)
    try:
        with pytest.raises(BankUnavailable):
            channel.balances([_account(world)])
    finally:
        channel.close()


def test_status_queries_are_chunked_at_500_ids(bank):
    """L-08: CMB allows at most 500 ids per query; we hold every bank to it."""
    running, world = bank
    channel = _channel(running, world)
    try:
        reports = channel.status([f"{n:032x}" for n in range(1201)])
    finally:
        channel.close()
    assert len(reports) == 1201 and {r.outcome.value for r in reports} == {"not_found"}


def test_a_dead_bank_is_unavailable_and_configuration_errors_name_the_key(bank, tmp_path):
    running, world = bank
    channel = open_channel("hostapi", "icbc", {"base_url": "https://127.0.0.1:9/icbc/v1",
                                               "ca_file": str(running.pki.ca_cert),
                                               "max_attempts": 1})
    try:
        with pytest.raises(BankUnavailable):
            channel.balances([_account(world)])
    finally:
        channel.close()
    with pytest.raises(ConfigError, match="base_url"):
        open_channel("hostapi", "icbc", {"base_url": "http://x", "ca_file": "x"})
    with pytest.raises(ConfigError, match="unknown key 'verify'"):
        open_channel("hostapi", "icbc", {"base_url": "https://x", "ca_file": "x",
                                         "verify": False})


def test_an_untrusted_bank_certificate_is_refused(bank, tmp_path):
    """A-04 (client side): a bank whose certificate our CA did not issue is never talked to."""
    from bankgate.crypto.pki import issue_test_pki

    running, world = bank
    other_ca = issue_test_pki(tmp_path / "other").ca_cert
    channel = open_channel("hostapi", "icbc", {"base_url": running.url("icbc"),
                                               "ca_file": str(other_ca), "max_attempts": 1})
    try:
        with pytest.raises((BankUnavailable, OutcomeUnknown)):
            channel.balances([_account(world)])
    finally:
        channel.close()
