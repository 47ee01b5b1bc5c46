"""Host API wire and dialect tables: codes as data, never guessed (B-13), malformed answers."""

from __future__ import annotations

import pytest

from bankgate.connectors.base import ErrorClass
from bankgate.connectors.hostapi.banks import DIALECTS
from bankgate.connectors.hostapi.wire import MalformedAnswer, to_balances, to_status_report
from bankgate.domain import Outcome
from tests.builders import an_account


@pytest.mark.parametrize(("dialect", "code", "outcome"), [
    ("icbc", "30", Outcome.SETTLED), ("cmb", "FIN-B", Outcome.RETURNED),
    ("boc", "RJCT", Outcome.REJECTED), ("boc", "NOTF", Outcome.NOT_FOUND),
    ("cmb", "AUT", Outcome.AWAITING_CONFIRMATION),
])
def test_each_bank_speaks_its_own_status_codes(dialect, code, outcome):
    line = {"instruction_id": "abc", "status": code}
    assert to_status_report(line, DIALECTS[dialect]).outcome is outcome


def test_B13_an_unknown_status_code_is_unrecognized_with_the_raw_code_kept():
    report = to_status_report({"instruction_id": "abc", "status": "77"}, DIALECTS["icbc"],
                              raw=b'{"status":"77"}')
    assert report.outcome is Outcome.UNRECOGNIZED and report.bank_code == "77"
    assert report.raw == b'{"status":"77"}'


@pytest.mark.parametrize(("dialect", "code", "kind", "reason"), [
    ("icbc", "E2001", ErrorClass.TERMINAL, "AM04"), ("cmb", "ACC_NAME_ERR", ErrorClass.TERMINAL,
                                                     "BE01"),
    ("boc", "TM01", ErrorClass.RETRYABLE, "TM01"), ("icbc", "E9999", ErrorClass.UNKNOWN, "MS03"),
    ("cmb", "NEVER_SEEN", ErrorClass.UNKNOWN, "NARR"),
])
def test_error_codes_are_classified_per_bank_as_data(dialect, code, kind, reason):
    meaning = DIALECTS[dialect].error(code)
    assert (meaning.kind, meaning.reason_code) == (kind, reason)


def test_bank_error_texts_lose_their_account_numbers():
    line = {"instruction_id": "abc", "status": "40", "error_code": "E2001",
            "error_message": "balance of 6222020200001000001 is below the amount"}
    reason = to_status_report(line, DIALECTS["icbc"]).reason
    assert reason == "E2001: balance of 6222****0001 is below the amount"


@pytest.mark.parametrize(("item", "says"), [
    ({"account": "6222020200001000001", "currency": "CNY", "ledger": "12.5",
      "available": "12.50"}, "scale"),
    ({"account": "6222020200001000001", "currency": "CNY", "ledger": 12.5,
      "available": "12.50"}, "ledger"),
    ({"account": "6222020200001000001", "currency": "EUR", "ledger": "1.00",
      "available": "1.00"}, "currency"),
    ({"account": "9999999999", "currency": "CNY", "ledger": "1.00", "available": "1.00"},
     "not asked about"),
])
def test_malformed_balance_answers_are_refused_naming_the_field(item, says):
    with pytest.raises(MalformedAnswer, match=says):
        to_balances({"balances": [item]}, [an_account()], "icbc")
