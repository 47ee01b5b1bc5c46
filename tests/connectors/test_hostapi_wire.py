"""Host API wire and dialect tables, pure: codes as data, never guessed (B-13), strict amounts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bankgate.connectors.base import ErrorClass
from bankgate.connectors.hostapi.banks import DIALECTS
from bankgate.connectors.hostapi.wire import (
    MalformedAnswer,
    batch_request,
    to_balances,
    to_entries,
    to_entry,
    to_statement,
    to_status_report,
    to_submission_ack,
)
from bankgate.connectors.http import RetryPolicy, backoff_s, retry_after_s
from bankgate.domain import EntryKey, Outcome, currency
from tests.builders import an_account
from tests.connectors.world import a_batch, a_line, our_account

R, T, U = ErrorClass.RETRYABLE, ErrorClass.TERMINAL, ErrorClass.UNKNOWN
ACCOUNT = "6222020200001000001"

#: docs/hostapi-protocol.md, Dialects — status rows.
STATUSES = [
    (Outcome.RECEIVED, "10", "BNK", "ACTC"),
    (Outcome.AWAITING_CONFIRMATION, "15", "AUT", "PDNG"),
    (Outcome.ACCEPTED, "20", "ACC", "ACCP"),
    (Outcome.SETTLED, "30", "FIN-S", "ACSC"),
    (Outcome.REJECTED, "40", "FIN-F", "RJCT"),
    (Outcome.RETURNED, "50", "FIN-B", "RTND"),
    (Outcome.NOT_FOUND, "99", "NOT_FOUND", "NOTF"),
]
#: Dialects — error rows, with (class after submit, class after a read, ISO reason).
ERRORS = [
    ("E2001", "ACC_BALANCE_LACK", "AM04", T, T, "AM04"),
    ("E2002", "ACC_NOT_EXIST", "AC01", T, T, "AC01"),
    ("E2003", "ACC_CLOSED", "AC04", T, T, "AC04"),
    ("E2004", "ACC_NAME_ERR", "BE01", T, T, "BE01"),
    ("E1009", "DUP_REQ", "DU05", U, T, "DU05"),
    ("E1000", "PARAM_ERR", "FF01", T, T, "FF01"),
    ("E2010", "PAYER_NOT_EXIST", "AC02", T, T, "AC02"),
    ("E9999", "SYS_ERR", "MS03", U, R, "MS03"),
    ("E9001", "SYS_BUSY", "TM01", R, R, "TM01"),
    ("E9002", "FREQ_LIMIT", "RL01", R, R, "RL01"),
]


@pytest.mark.parametrize("row", STATUSES, ids=lambda r: r[0].value)
def test_every_status_code_of_every_dialect_maps_to_its_outcome(row):
    outcome, *codes = row
    for bank, code in zip(("icbc", "cmb", "boc"), codes, strict=True):
        report = to_status_report({"instruction_id": "abc", "status": code}, DIALECTS[bank])
        assert (report.outcome, report.bank_code) == (outcome, code), bank


@pytest.mark.parametrize("row", ERRORS, ids=lambda r: r[0])
def test_every_error_code_is_classified_per_bank_as_data(row):
    *codes, on_submit, on_read, reason = row
    for bank, code in zip(("icbc", "cmb", "boc"), codes, strict=True):
        meaning = DIALECTS[bank].error(code)
        assert (meaning.kind_for(safe=False), meaning.kind_for(safe=True),
                meaning.reason_code) == (on_submit, on_read, reason), bank


def test_B13_an_unknown_status_code_is_unrecognized_with_the_raw_code_kept():
    report = to_status_report({"instruction_id": "abc", "status": "77"}, DIALECTS["icbc"],
                              raw=b'{"status":"77"}')
    assert report.outcome is Outcome.UNRECOGNIZED and report.bank_code == "77"
    assert report.raw == b'{"status":"77"}'


def test_B13_a_status_of_one_bank_is_not_understood_at_another():
    """`ACCP` is boc's accepted; icbc never says it, so at icbc it is not guessed."""
    report = to_status_report({"instruction_id": "abc", "status": "ACCP"}, DIALECTS["icbc"])
    assert report.outcome is Outcome.UNRECOGNIZED


def test_B13_an_unknown_error_code_is_of_unknown_effect_and_kept_in_the_reason():
    line = {"instruction_id": "abc", "status": "FIN-F", "error_code": "NEVER_SEEN",
            "error_message": None}
    report = to_status_report(line, DIALECTS["cmb"])
    assert DIALECTS["cmb"].error("NEVER_SEEN").kind_for(safe=False) is U
    assert report.outcome is Outcome.REJECTED and report.reason_code == "NARR"
    assert report.reason is not None and report.reason.startswith("NEVER_SEEN")
    assert b"NEVER_SEEN" in report.raw  # no raw given: the line itself is kept


def test_B05_a_duplicate_line_is_received_DU05_whatever_status_it_carries():
    line = {"instruction_id": "abc", "status": "ACCP", "error_code": "DU05",
            "error_message": "already held"}
    report = to_status_report(line, DIALECTS["boc"])
    assert (report.outcome, report.bank_code, report.reason_code) == (
        Outcome.RECEIVED, "DU05", "DU05")
    assert json.loads(report.raw)["status"] == "ACCP"


def test_bank_error_texts_lose_their_account_numbers():
    line = {"instruction_id": "abc", "status": "40", "error_code": "E2001",
            "error_message": "balance of 6222020200001000001 is below the amount"}
    reason = to_status_report(line, DIALECTS["icbc"]).reason
    assert reason == "E2001: balance of 6222****0001 is below the amount"


@pytest.mark.parametrize(("line", "says"), [
    ([], "not an object"),
    ({"status": "20"}, "instruction_id"),
    ({"instruction_id": "abc", "status": 20}, "status"),
    ({"instruction_id": "abc", "status": "20", "error_code": 2001}, "error_code"),
    ({"instruction_id": "abc", "status": "20", "updated_at": "yesterday"}, "updated_at"),
    ({"instruction_id": "abc", "status": "20", "bank_reference": 7}, "bank_reference"),
])
def test_malformed_status_lines_are_refused_naming_the_field(line, says):
    with pytest.raises(MalformedAnswer, match=says):
        to_status_report(line, DIALECTS["icbc"])


def _balance(**changes):  # type: ignore[no-untyped-def]
    item = {"account": ACCOUNT, "currency": "CNY", "ledger": "-12.50", "available": "0.00",
            "as_of": "2026-11-23T08:00:00Z"}
    return {**item, **changes}


def test_a_balance_is_parsed_as_signed_decimal_money():
    [booked, available] = to_balances({"balances": [_balance()]}, [an_account()], "icbc")
    assert booked.amount.amount == Decimal("-12.50") and available.amount.amount == 0
    assert booked.account == "acc-icbc" and booked.as_of.isoformat() == "2026-11-23T08:00:00+00:00"


@pytest.mark.parametrize(("item", "says"), [
    (_balance(ledger="12.5"), "scale"),
    (_balance(ledger="12.505"), "more decimals"),
    (_balance(ledger=12.5), "ledger"),
    (_balance(ledger="--12.50"), "plain signed"),
    (_balance(ledger="+12.50"), "plain signed"),
    (_balance(ledger=" 12.50"), "plain signed"),
    (_balance(ledger="1e3"), "plain decimal"),
    (_balance(ledger="NaN"), "plain decimal"),
    (_balance(currency="EUR"), "currency"),
    (_balance(account="9999999999"), "not asked about"),
    (_balance(as_of=None), "as_of"),
    (_balance(as_of="2026-11-23T08:00:00"), "time zone"),
])
def test_malformed_balance_answers_are_refused_naming_the_field(item, says):
    with pytest.raises(MalformedAnswer, match=says):
        to_balances({"balances": [item]}, [an_account()], "icbc")


def test_a_balance_answer_must_cover_every_account_asked():
    with pytest.raises(MalformedAnswer, match="0 answered for 1 asked"):
        to_balances({"balances": []}, [an_account()], "icbc")


def test_amounts_follow_the_currency_scale_jpy_has_none():
    yen = an_account(currency=currency("JPY"))
    [booked, _] = to_balances({"balances": [_balance(currency="JPY", ledger="1200",
                                                     available="-5")]}, [yen], "icbc")
    assert booked.amount.amount == Decimal("1200")
    with pytest.raises(MalformedAnswer, match="more decimals"):
        to_balances({"balances": [_balance(currency="JPY", ledger="1200.00")]}, [yen], "icbc")


ENTRY = {"serial": "ICBC20261123000001", "booked_at": "2026-11-23T02:00:00Z",
         "booking_date": "2026-11-23", "value_date": "2026-11-23", "amount": "-12.50",
         "balance_after": "987.50", "counterparty_name": "上海宏达贸易有限公司",
         "counterparty_account": "6222020200009000001", "instruction_id": "abc",
         "remittance": "INV-1"}


def test_an_entry_is_keyed_by_the_bank_serial_and_keeps_its_line():
    entry = to_entry(ENTRY, an_account(), "hostapi:icbc/transactions")
    assert entry.key == EntryKey("bank_reference", "ICBC20261123000001")
    assert entry.amount.amount == Decimal("-12.50") and entry.booking_date == date(2026, 11, 23)
    assert entry.end_to_end_id == "abc" and json.loads(entry.raw) == ENTRY


@pytest.mark.parametrize(("changes", "says"), [
    ({"serial": ""}, "serial"), ({"amount": "-12.5"}, "scale"),
    ({"balance_after": 987.5}, "balance_after"), ({"booking_date": "23.11.2026"}, "date"),
    ({"instruction_id": 5}, "instruction_id"),
])
def test_malformed_entries_are_refused_naming_the_field(changes, says):
    with pytest.raises(MalformedAnswer, match=says):
        to_entries({"account": ACCOUNT, "currency": "CNY", "entries": [{**ENTRY, **changes}]},
                   an_account(), "t")


def test_a_transactions_answer_for_another_account_is_refused():
    with pytest.raises(MalformedAnswer, match="another account"):
        to_entries({"account": "6222020200009000001", "currency": "CNY", "entries": []},
                   an_account(), "t")


def test_a_statement_for_another_day_is_refused_and_one_for_the_day_is_read():
    answer = {"account": ACCOUNT, "currency": "CNY", "date": "2026-11-23", "opening": "1000.00",
              "closing": "987.50", "entries": [ENTRY]}
    statement = to_statement(answer, an_account(), date(2026, 11, 23), "icbc", b"raw")
    assert statement.closing and statement.closing.amount.amount == Decimal("987.50")
    assert statement.raw == b"raw" and len(statement.entries) == 1
    with pytest.raises(MalformedAnswer, match="not 2026-11-24"):
        to_statement(answer, an_account(), date(2026, 11, 24), "icbc", b"raw")


def test_the_submit_body_carries_amounts_as_strings_and_revealed_numbers():
    ours = our_account("icbc")
    lines = [a_line(ours, amount="1200.50")]
    body = batch_request(a_batch(ours, lines), ours, lines, "https://gw.example/cb")
    order = body["orders"][0]
    assert body["debtor_account"] == ours.number.reveal() and body["currency"] == "CNY"
    assert order["amount"] == "1200.50" and order["payee_account"] == "6222020200009000001"
    assert body["callback_url"] == "https://gw.example/cb"


def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert retry_after_s("3") == 3.0
    assert retry_after_s("Mon, 23 Nov 2026 08:00:05 GMT", now=now) == 5.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_backoff_is_jittered_under_an_exponential_cap_unless_the_bank_says_when():
    policy = RetryPolicy(backoff_s=0.2, backoff_cap_s=1.0)
    waits = [backoff_s(attempt, policy) for attempt in (1, 2, 3, 9) for _ in range(50)]
    assert all(0 <= w <= 1.0 for w in waits) and max(waits[:50]) <= 0.2
    assert backoff_s(1, policy, "2") == 2.0


def _ack_answer(batch_id, *ids):  # type: ignore[no-untyped-def]
    return {"batch_id": batch_id, "bank_reference": "ICBC-B-000001",
            "orders": [{"instruction_id": i, "status": "20", "error_code": None,
                        "error_message": None} for i in ids]}


def test_a_submit_answer_becomes_an_ack_with_one_report_per_line():
    ours = our_account("icbc")
    lines = [a_line(ours), a_line(ours)]
    batch = a_batch(ours, lines)
    ids = [line.order.instruction_id for line in lines]
    ack = to_submission_ack(_ack_answer(batch.id, *ids), batch, lines, DIALECTS["icbc"],
                            raw=b"whole answer")
    assert [r.instruction_id for r in ack.reports] == ids and ack.raw == b"whole answer"
    assert ack.bank_reference == "ICBC-B-000001" and ack.reports[0].raw != ack.raw


@pytest.mark.parametrize(("which", "says"), [
    ("other batch", "another batch"), ("stranger", "not sent"), ("twice", "twice"),
    ("bad line", "orders\\[0\\]"),
])
def test_a_submit_answer_about_other_orders_is_malformed(which, says):
    """Any of these after a submit means: we cannot tell what the bank did (→ unknown)."""
    ours = our_account("icbc")
    lines = [a_line(ours)]
    batch = a_batch(ours, lines)
    mine = lines[0].order.instruction_id
    answer = {"other batch": _ack_answer("B-other", mine),
              "stranger": _ack_answer(batch.id, mine, "f" * 32),
              "twice": _ack_answer(batch.id, mine, mine),
              "bad line": {"batch_id": batch.id, "orders": [{"instruction_id": mine}]}}[which]
    with pytest.raises(MalformedAnswer, match=says):
        to_submission_ack(answer, batch, lines, DIALECTS["icbc"], raw=b"")
