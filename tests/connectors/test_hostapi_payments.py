"""Submit and status against the real sandbox banks over TLS: never pay twice (B-01…B-05, B-20).

Every fault here is the sandbox's own (`set_faults` scripts); the ledger's debit bookings per
instruction id are the ground truth for "booked once".
"""

from __future__ import annotations

import time

import pytest

from bankgate.connectors.hostapi import DUPLICATE_REASON
from bankgate.domain import Outcome
from bankgate.errors import BankRejected, BankUnavailable, OutcomeUnknown
from bankgate.sandbox.run import RunningSandbox
from tests.connectors.world import (
    BANKS,
    NUMBERS,
    UNKNOWN_NUMBER,
    a_batch,
    a_line,
    bookings,
    open_bank,
    our_account,
)

#: Per dialect: accepted status, and the error codes of the protocol's Dialects table.
ACCEPTED = {"icbc": "20", "cmb": "ACC", "boc": "ACCP"}
LINE_REFUSALS = {  # meaning → per bank code, and the ISO reason we map it to
    "insufficient_funds": ({"icbc": "E2001", "cmb": "ACC_BALANCE_LACK", "boc": "AM04"}, "AM04"),
    "unknown_account": ({"icbc": "E2002", "cmb": "ACC_NOT_EXIST", "boc": "AC01"}, "AC01"),
    "closed_account": ({"icbc": "E2003", "cmb": "ACC_CLOSED", "boc": "AC04"}, "AC04"),
    "name_mismatch": ({"icbc": "E2004", "cmb": "ACC_NAME_ERR", "boc": "BE01"}, "BE01"),
}
BATCH_REFUSALS = {
    "unknown_debtor": ({"icbc": "E2010", "cmb": "PAYER_NOT_EXIST", "boc": "AC02"}, "AC02"),
    "invalid_request": ({"icbc": "E1000", "cmb": "PARAM_ERR", "boc": "FF01"}, "FF01"),
    "closed_account": ({"icbc": "E2003", "cmb": "ACC_CLOSED", "boc": "AC04"}, "AC04"),
}


def _refused_line(bank: str, meaning: str):  # type: ignore[no-untyped-def]
    ours = our_account(bank)
    if meaning == "insufficient_funds":
        return a_line(ours, amount="99999999.00")
    if meaning == "unknown_account":
        return a_line(ours, payee=UNKNOWN_NUMBER)
    if meaning == "closed_account":
        return a_line(ours, payee=NUMBERS[bank][2], name="已销户有限公司")
    return a_line(ours, name="上海宏达贸易公司")  # 户名不符: the short form of the name


def test_a_submitted_batch_is_accepted_and_the_status_query_follows_it(sandbox: RunningSandbox):
    channel = open_bank(sandbox, "icbc")
    try:
        lines = [a_line(our_account("icbc")), a_line(our_account("icbc"), amount="0.01")]
        batch = a_batch(our_account("icbc"), lines)
        ack = channel.submit(batch, our_account("icbc"), lines)
        assert ack.batch_id == batch.id and ack.bank_reference and ack.raw
        assert [r.outcome for r in ack.reports] == [Outcome.ACCEPTED] * 2
        assert all(r.bank_code == "20" and r.raw for r in ack.reports)
        sandbox.settle_now()
        ids = [line.order.instruction_id for line in lines]
        reports = channel.status(ids)
    finally:
        channel.close()
    assert [r.instruction_id for r in reports] == ids
    assert {r.outcome for r in reports} == {Outcome.SETTLED}
    assert [bookings(sandbox, line) for line in lines] == [1, 1]


def test_the_same_batch_sent_again_is_booked_once(sandbox: RunningSandbox):
    """Idempotent resend: same batch id, same body → the bank's first answer, no new booking."""
    channel = open_bank(sandbox, "cmb")
    try:
        lines = [a_line(our_account("cmb"))]
        batch = a_batch(our_account("cmb"), lines)
        first = channel.submit(batch, our_account("cmb"), lines)
        again = channel.submit(batch, our_account("cmb"), lines)
    finally:
        channel.close()
    assert again.bank_reference == first.bank_reference
    assert again.reports[0].outcome is Outcome.ACCEPTED
    assert bookings(sandbox, lines[0]) == 1


@pytest.mark.parametrize("bank", BANKS)
@pytest.mark.parametrize("meaning", sorted(LINE_REFUSALS))
def test_each_line_refusal_is_mapped_per_dialect(sandbox: RunningSandbox, bank: str,
                                                 meaning: str):
    codes, reason = LINE_REFUSALS[meaning]
    channel = open_bank(sandbox, bank)
    try:
        line = _refused_line(bank, meaning)
        ack = channel.submit(a_batch(our_account(bank), [line]), our_account(bank), [line])
    finally:
        channel.close()
    report = ack.reports[0]
    assert report.outcome is Outcome.REJECTED and report.reason_code == reason
    assert report.reason is not None and report.reason.startswith(codes[bank])
    assert codes[bank].encode() in report.raw and bookings(sandbox, line) == 0


@pytest.mark.parametrize("bank", BANKS)
@pytest.mark.parametrize("meaning", sorted(BATCH_REFUSALS))
def test_a_refused_batch_is_bank_rejected_with_the_mapped_reason(sandbox: RunningSandbox,
                                                                  bank: str, meaning: str):
    codes, reason = BATCH_REFUSALS[meaning]
    debtor = our_account(bank)
    if meaning == "unknown_debtor":
        debtor = our_account(bank, UNKNOWN_NUMBER)
    elif meaning == "closed_account":
        debtor = our_account(bank, NUMBERS[bank][2])
    lines = [a_line(our_account(bank))]
    batch = a_batch(debtor, lines, cur="EUR" if meaning == "invalid_request" else None)
    channel = open_bank(sandbox, bank)
    try:
        with pytest.raises(BankRejected) as refused:
            channel.submit(batch, debtor, lines)
    finally:
        channel.close()
    assert refused.value.bank_code == codes[bank] and f"({reason})" in str(refused.value)
    assert refused.value.raw and bookings(sandbox, lines[0]) == 0


def test_B02_accept_then_drop_is_unknown_and_the_status_query_finds_it_booked_once(
        sandbox: RunningSandbox):
    """B-02: the bank books, then closes the connection without a byte of answer."""
    sandbox.set_faults(bank="boc", script=[{"op": "submit", "fault": "drop_after_accept"}])
    channel = open_bank(sandbox, "boc")
    try:
        line = a_line(our_account("boc"))
        with pytest.raises(OutcomeUnknown):
            channel.submit(a_batch(our_account("boc"), [line]), our_account("boc"), [line])
        [report] = channel.status([line.order.instruction_id])
    finally:
        channel.close()
    assert report.outcome in (Outcome.ACCEPTED, Outcome.SETTLED)
    assert bookings(sandbox, line) == 1


def test_B01_an_answer_later_than_the_read_timeout_is_unknown_and_never_resent(
        sandbox: RunningSandbox):
    """B-01: the bank books, then answers after our timeout; we must not send it again."""
    sandbox.set_faults(bank="icbc", sleep_after_accept_s=1.5,
                       script=[{"op": "submit", "fault": "sleep_after_accept"}])
    channel = open_bank(sandbox, "icbc", timeout_s=0.4, max_attempts=3)
    try:
        line = a_line(our_account("icbc"))
        with pytest.raises(OutcomeUnknown, match="in time"):
            channel.submit(a_batch(our_account("icbc"), [line]), our_account("icbc"), [line])
        [report] = channel.status([line.order.instruction_id])
    finally:
        channel.close()
    assert report.outcome in (Outcome.ACCEPTED, Outcome.SETTLED)
    assert bookings(sandbox, line) == 1


def test_B03_an_internal_error_after_booking_is_unknown_not_rejected(sandbox: RunningSandbox):
    """B-03: HTTP 500 with the internal code may follow a booking: outcome unknown."""
    sandbox.set_faults(bank="cmb", script=[{"op": "submit", "fault": "error_after_booking"}])
    channel = open_bank(sandbox, "cmb")
    try:
        line = a_line(our_account("cmb"))
        with pytest.raises(OutcomeUnknown) as unknown:
            channel.submit(a_batch(our_account("cmb"), [line]), our_account("cmb"), [line])
        [report] = channel.status([line.order.instruction_id])
    finally:
        channel.close()
    assert unknown.value.bank_code == "SYS_ERR" and b"SYS_ERR" in unknown.value.raw
    assert report.bank_code == ACCEPTED["cmb"] and bookings(sandbox, line) == 1


def test_B03_an_internal_error_on_a_read_is_retried(sandbox: RunningSandbox):
    """A status query changes nothing at the bank, so its 500 is simply retried."""
    sandbox.set_faults(bank="icbc", script=[{"op": "status", "fault": "error_after_booking"}])
    channel = open_bank(sandbox, "icbc")
    try:
        [report] = channel.status(["0" * 32])
    finally:
        channel.close()
    assert report.outcome is Outcome.NOT_FOUND


def test_B04_busy_then_success_books_once(sandbox: RunningSandbox):
    """B-04: 503 means nothing was done; the retry books the batch exactly once."""
    sandbox.set_faults(bank="boc", script=[{"op": "submit", "fault": "busy"}] * 2)
    channel = open_bank(sandbox, "boc")
    try:
        line = a_line(our_account("boc"))
        ack = channel.submit(a_batch(our_account("boc"), [line]), our_account("boc"), [line])
    finally:
        channel.close()
    assert ack.reports[0].outcome is Outcome.ACCEPTED and bookings(sandbox, line) == 1


def test_B04_a_bank_that_stays_busy_is_unavailable_and_nothing_is_booked(
        sandbox: RunningSandbox):
    sandbox.set_faults(bank="icbc", script=[{"op": "submit", "fault": "busy"}] * 3)
    channel = open_bank(sandbox, "icbc", max_attempts=2)
    try:
        line = a_line(our_account("icbc"))
        with pytest.raises(BankUnavailable) as busy:
            channel.submit(a_batch(our_account("icbc"), [line]), our_account("icbc"), [line])
    finally:
        channel.close()
    assert busy.value.bank_code == "E9001" and bookings(sandbox, line) == 0


def test_B05_an_instruction_id_sent_again_in_another_batch_is_received_DU05_not_booked(
        sandbox: RunningSandbox):
    """B-05: the bank holds the id already; the line says so and books nothing new."""
    channel = open_bank(sandbox, "icbc")
    try:
        line = a_line(our_account("icbc"))
        channel.submit(a_batch(our_account("icbc"), [line]), our_account("icbc"), [line])
        ack = channel.submit(a_batch(our_account("icbc"), [line]), our_account("icbc"), [line])
    finally:
        channel.close()
    [report] = ack.reports
    assert (report.outcome, report.bank_code, report.reason_code) == (
        Outcome.RECEIVED, "E1009", DUPLICATE_REASON)
    assert b'"status":"20"' in report.raw  # the held order's own status, kept as evidence
    assert bookings(sandbox, line) == 1


def test_a_batch_id_reused_with_another_body_is_unknown(sandbox: RunningSandbox):
    """HTTP 409: the bank holds this batch id with other orders; only a status query can tell
    which of ours it holds, so the outcome is unknown (never rejected, never resent)."""
    channel = open_bank(sandbox, "cmb")
    try:
        first = [a_line(our_account("cmb"))]
        batch = a_batch(our_account("cmb"), first)
        channel.submit(batch, our_account("cmb"), first)
        other = [a_line(our_account("cmb"), amount="5.00")]
        with pytest.raises(OutcomeUnknown) as conflict:
            channel.submit(batch, our_account("cmb"), other)
    finally:
        channel.close()
    assert conflict.value.bank_code == "DUP_REQ" and "409" in str(conflict.value)
    assert bookings(sandbox, other[0]) == 0


def test_B20_rate_limited_submit_waits_for_retry_after_then_books_once(sandbox: RunningSandbox):
    """B-20: 429 with Retry-After: 1 → we wait at least that long, then the retry books once."""
    sandbox.set_faults(bank="cmb", retry_after_s=1,
                       script=[{"op": "submit", "fault": "rate_limited"}])
    channel = open_bank(sandbox, "cmb")
    started = time.monotonic()
    try:
        line = a_line(our_account("cmb"))
        ack = channel.submit(a_batch(our_account("cmb"), [line]), our_account("cmb"), [line])
    finally:
        channel.close()
    assert time.monotonic() - started >= 0.95
    assert ack.reports[0].outcome is Outcome.ACCEPTED and bookings(sandbox, line) == 1


def test_B20_a_retry_after_beyond_the_time_budget_is_not_waited_for(sandbox: RunningSandbox):
    """A Retry-After longer than `max_total_s` ends the call at once, carrying the bank's
    Retry-After so that the caller schedules the next try."""
    sandbox.set_faults(bank="boc", retry_after_s=30,
                       script=[{"op": "submit", "fault": "rate_limited"}])
    channel = open_bank(sandbox, "boc", max_total_s=2.0)
    started = time.monotonic()
    try:
        line = a_line(our_account("boc"))
        with pytest.raises(BankUnavailable) as limited:
            channel.submit(a_batch(our_account("boc"), [line]), our_account("boc"), [line])
    finally:
        channel.close()
    assert time.monotonic() - started < 1.0
    assert (limited.value.bank_code, limited.value.retry_after) == ("RL01", "30")
    assert bookings(sandbox, line) == 0
