"""The host API channel's message security against the real sandbox banks.

B-15 forged or unsigned answers, I-07 clock skew against the bank's clock, A-01 our
signatures as the bank sees them, INV-7 nothing secret in errors or logs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bankgate.domain import Outcome
from bankgate.errors import BankUnavailable, OutcomeUnknown
from bankgate.sandbox.run import RunningSandbox
from tests.connectors.world import a_batch, a_line, bookings, open_bank, our_account


@pytest.mark.parametrize(("bank", "fault", "code"), [
    ("icbc", "forged_answer", "AUTH_SIGNATURE_INVALID"),    # RSA-SHA256
    ("cmb", "forged_answer", "AUTH_SIGNATURE_INVALID"),     # SM2-SM3
    ("boc", "unsigned_answer", "AUTH_SIGNATURE_MISSING"),   # ECDSA-P256-SHA256
])
def test_B15_a_forged_submit_answer_is_an_unknown_outcome_settled_by_a_verified_query(
        sandbox: RunningSandbox, bank: str, fault: str, code: str):
    ours = our_account(bank)
    line = a_line(ours)
    sandbox.set_faults(bank=bank, script=[{"op": "submit", "fault": fault}])
    channel = open_bank(sandbox, bank)
    try:
        with pytest.raises(OutcomeUnknown) as unknown:
            channel.submit(a_batch(ours, [line]), ours, [line])
        [report] = channel.status([line.order.instruction_id])
    finally:
        channel.close()
    assert unknown.value.bank_code == code and "treated as forged" in str(unknown.value)
    assert report.outcome in (Outcome.ACCEPTED, Outcome.SETTLED)  # the bank's verified word
    assert bookings(sandbox, line) == 1  # the channel never resent it


def test_B15_a_forged_read_answer_is_not_believed_and_the_read_is_retried(
        sandbox: RunningSandbox):
    sandbox.set_faults(bank="boc", script=[{"op": "balances", "fault": "forged_answer"}])
    channel = open_bank(sandbox, "boc")
    try:
        balances = channel.balances([our_account("boc")])  # second attempt, verified
    finally:
        channel.close()
    assert balances and balances[0].amount.to_minor() == sandbox.ledger.balance_minor(
        "boc", our_account("boc").number.reveal())


def test_B15_a_read_whose_answers_stay_forged_is_unavailable(sandbox: RunningSandbox):
    sandbox.set_faults(bank="icbc", script=[{"op": "status", "fault": "forged_answer"}] * 3)
    channel = open_bank(sandbox, "icbc", max_attempts=2)
    try:
        with pytest.raises(BankUnavailable, match="treated as forged"):
            channel.status(["0" * 32])  # type: ignore[list-item]
    finally:
        channel.close()


@pytest.mark.parametrize("offset_s", [-250, 250])
def test_I07_a_bank_clock_inside_the_window_accepts_our_requests(sandbox: RunningSandbox,
                                                                offset_s: float):
    sandbox.set_faults(bank="cmb", clock_offset_s=offset_s)
    channel = open_bank(sandbox, "cmb")
    try:
        assert channel.balances([our_account("cmb")])
    finally:
        channel.close()


@pytest.mark.parametrize("offset_s", [-400, 400])
def test_I07_a_bank_clock_outside_the_window_refuses_with_clock_skew_and_books_nothing(
        sandbox: RunningSandbox, offset_s: float):
    """The refusal comes before the bank does anything: safe to retry, never a rejection."""
    sandbox.set_faults(bank="icbc", clock_offset_s=offset_s)
    ours = our_account("icbc")
    line = a_line(ours)
    channel = open_bank(sandbox, "icbc", max_attempts=1)
    try:
        with pytest.raises(BankUnavailable) as refused:
            channel.submit(a_batch(ours, [line]), ours, [line])
    finally:
        channel.close()
    assert refused.value.bank_code == "AUTH_CLOCK_SKEW"
    assert "clock skew" in str(refused.value) and "HTTP 401" in str(refused.value)
    assert bookings(sandbox, line) == 0


def test_A01_every_request_reaches_the_bank_signed_with_a_fresh_nonce(sandbox: RunningSandbox):
    """Retries are signed afresh: the bank's replay guard never trips on our own retries."""
    sandbox.set_faults(bank="boc", script=[{"op": "balances", "fault": "busy"}] * 2)
    before = len(sandbox.security.refusals)
    channel = open_bank(sandbox, "boc", max_attempts=3)
    try:
        assert channel.balances([our_account("boc")])
    finally:
        channel.close()
    assert len(sandbox.security.refusals) == before


def test_INV7_security_errors_and_logs_hold_no_account_number_or_key(
        sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    ours = our_account("cmb")
    line = a_line(ours)
    sandbox.set_faults(bank="cmb", script=[{"op": "submit", "fault": "forged_answer"}],
                       clock_offset_s=0)
    channel = open_bank(sandbox, "cmb")
    try:
        with pytest.raises(OutcomeUnknown) as unknown:
            channel.submit(a_batch(ours, [line]), ours, [line])
        sandbox.set_faults(bank="cmb", clock_offset_s=900)
        with pytest.raises(BankUnavailable) as skewed:
            channel.transactions(ours, line.order.execution_date, line.order.execution_date)
    finally:
        channel.close()
        sandbox.set_faults(bank="cmb", clock_offset_s=0)
    keys = sandbox.keys["cmb"]
    secrets = [Path(keys.gateway.password_file).read_text().strip(),
               Path(keys.bank.password_file).read_text().strip()]
    ours_logged = [r for r in caplog.records  # the gateway's own logs; httpx logs URLs
                   if r.name.startswith("bankgate.") and not r.name.startswith("bankgate.sandbox")]
    told = "\n".join([str(unknown.value), str(skewed.value)]
                     + [r.getMessage() + str(r.__dict__) for r in ours_logged]
                     + [r.message + r.target for r in sandbox.security.refusals])
    for secret in (*secrets, ours.number.reveal(), line.payee.account.reveal()):
        assert secret not in told
    assert "PRIVATE KEY" not in told
