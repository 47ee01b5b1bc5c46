"""The front-end processor channel (前置机) against the sandbox's front-end and CMB bank.

Round trips (balance, submit, status, history, statement) in GBK through the front-end's
SM2-SM3 signature; real CMB messages from shared/samples read by the same wire code; a
forged front-end signature refused by the bank (A-01); bad XML from the bank classified;
an uncertain outcome left `unknown` and settled by a status query (B-01…B-03, B-15).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bankgate.connectors import open_channel
from bankgate.connectors.frontend import BANKS, CAPABILITIES, FrontendChannel, connect, wire
from bankgate.crypto import client_ssl_context
from bankgate.crypto.signed_http import sign_request
from bankgate.domain import Outcome
from bankgate.errors import BankUnavailable, ConfigError, OutcomeUnknown
from bankgate.formats.cn_directconnect import read_package
from bankgate.sandbox.ledger import SHANGHAI
from bankgate.sandbox.run import RunningSandbox
from tests.connectors.world import NUMBERS, PAYEE, a_batch, a_line, bookings, our_account
from tests.samples import SAMPLES, needs_samples
from tests.signing import bank_signer, gateway_signer

CMB = BANKS["cmb"]


def front(sandbox: RunningSandbox, **options: Any) -> FrontendChannel:
    """A channel to cmb through its front-end, with quick retries (tests close it)."""
    config = {k: v for k, v in sandbox.frontend_options("cmb").items() if k != "kind"}
    return connect("cmb", {**config, "timeout_s": 3.0, "backoff_s": 0.01, "max_total_s": 5.0,
                           **options})


def _today() -> date:
    return datetime.now(SHANGHAI).date()


def test_balance_submit_status_and_history_round_trip_through_the_front_end(sandbox):
    ours = our_account("cmb")
    channel = front(sandbox)
    try:
        before = channel.balances([ours])
        line = a_line(ours, amount="1234.56")
        ack = channel.submit(a_batch(ours, [line]), ours, [line])
        sandbox.settle_now()
        [report] = channel.status([line.order.instruction_id])
        entries = list(channel.transactions(ours, _today(), _today()))
        statement = channel.statements(ours, _today())
        after = channel.balances([ours])
    finally:
        channel.close()
    assert [(r.outcome, r.bank_code) for r in ack.reports] == [(Outcome.ACCEPTED, "BNK")]
    assert (report.outcome, report.bank_code) == (Outcome.SETTLED, "FIN/S")
    assert before[0].amount.amount - after[0].amount.amount == Decimal("1234.56")
    mine = [e for e in entries if e.instruction_id == line.order.instruction_id]
    assert len(mine) == 1 and mine[0].amount.amount == Decimal("-1234.56")
    assert mine[0].counterparty_name == PAYEE  # 上海宏达贸易有限公司 back through GBK
    total = statement.opening.amount.amount + sum(e.amount.amount for e in statement.entries)
    assert total == statement.closing.amount.amount == after[0].amount.amount
    assert bookings(sandbox, line) == 1 and channel.capabilities == CAPABILITIES


def test_requests_are_gbk_with_the_banks_transaction_codes_and_field_names():
    ours = our_account("cmb")
    line = a_line(ours, name="反洗钱测试二")
    request = wire.Request(CMB, login="BANKGATE01", branch="75")
    raw = wire.submit_request(request, a_batch(ours, [line]), ours, [line])
    assert raw.startswith(b"<?xml version='1.0' encoding='GBK'?>")
    assert "反洗钱测试二".encode("gbk") in raw and "反洗钱测试二".encode() not in raw
    package = read_package(raw, "ours")
    assert package.function == "DCPAYMNT"
    [header, order] = package.records
    assert header.tag == "SDKPAYRQX" and header.fields["BUSCOD"] == "N02031"
    assert order.tag == "DCOPDPAYX"
    assert {k: order.fields[k] for k in ("YURREF", "TRSAMT", "CCYNBR", "BNKFLG", "CRTBNK")} == {
        "YURREF": line.order.instruction_id, "TRSAMT": "100.00", "CCYNBR": "10",
        "BNKFLG": "Y", "CRTBNK": "招商银行"}


def test_a_name_gbk_cannot_write_is_rejected_unsent_and_the_rest_of_the_batch_goes(sandbox):
    ours = our_account("cmb")
    bad, good = a_line(ours, name="Straße Logistik GmbH"), a_line(ours)
    channel = front(sandbox)
    try:
        ack = channel.submit(a_batch(ours, [bad, good]), ours, [bad, good])
        alone = channel.submit(a_batch(ours, [bad]), ours, [bad])  # nothing to send at all
    finally:
        channel.close()
    by_id = {r.instruction_id: r for r in ack.reports}
    refused = by_id[bad.order.instruction_id]
    assert (refused.outcome, refused.bank_code) == (Outcome.REJECTED, "GBK")
    assert refused.reason == "not sent: CRTNAM 'ß' cannot be written in GBK"
    assert by_id[good.order.instruction_id].outcome is Outcome.ACCEPTED
    assert [r.outcome for r in alone.reports] == [Outcome.REJECTED] and alone.raw == b""
    assert (bookings(sandbox, bad), bookings(sandbox, good)) == (0, 1)


@pytest.mark.parametrize(("payee", "amount", "reason"), [
    ("closed", "10.00", "AC04"), ("unknown", "10.00", "AC01"), ("ours", "2000000.00", "AM04")])
def test_the_banks_refusals_are_real_and_carry_the_iso_reason(sandbox, payee, amount, reason):
    ours = our_account("cmb")
    number = {"closed": NUMBERS["cmb"][2], "unknown": "6214839999999999",
              "ours": NUMBERS["cmb"][1]}[payee]
    line = a_line(ours, amount=amount, payee=number)
    channel = front(sandbox)
    try:
        ack = channel.submit(a_batch(ours, [line]), ours, [line])
        sandbox.settle_now()
        [later] = channel.status([line.order.instruction_id])
    finally:
        channel.close()
    outcomes = {ack.reports[0].outcome, later.outcome}
    assert outcomes & {Outcome.REJECTED, Outcome.RETURNED}
    assert reason in {ack.reports[0].reason_code, later.reason_code}
    assert bookings(sandbox, line) == (1 if later.outcome is Outcome.RETURNED else 0)


def test_A01_a_package_with_a_forged_front_end_signature_is_refused_by_the_bank(sandbox):
    """Signed with a key the bank did not register for the company (not the token's)."""
    ours = our_account("cmb")
    line = a_line(ours)
    request = wire.Request(CMB, login="BANKGATE01", branch="75")
    body = wire.submit_request(request, a_batch(ours, [line]), ours, [line])
    url = sandbox.frontends.bank_url("cmb")
    target = "/" + url.split("/", 3)[3]
    keys = sandbox.keys["cmb"]
    forged = sign_request(bank_signer(keys), method="POST", target=target, body=body,
                          now=datetime.now(UTC))
    genuine = sign_request(gateway_signer(keys), method="POST", target=target, body=body,
                           now=datetime.now(UTC))
    with httpx.Client(verify=client_ssl_context(sandbox.pki), timeout=5) as http:
        answers = [http.post(url, content=body, headers=headers)
                   for headers in ({}, forged, {**genuine, "X-Bg-Signature": forged[
                       "X-Bg-Signature"]})]
    for answer in answers:
        package = read_package(answer.content, "bank")
        assert package.info["RETCOD"] == "-3", package.info
    assert bookings(sandbox, line) == 0
    assert {r.code for r in list(sandbox.security.refusals)[-3:]} == {
        "AUTH_SIGNATURE_MISSING", "AUTH_UNKNOWN_KEY", "AUTH_SIGNATURE_INVALID"}


def test_A04_the_bank_behind_the_front_end_takes_no_client_without_a_certificate(sandbox):
    with httpx.Client(verify=client_ssl_context(sandbox.pki, with_client_cert=False),
                      timeout=5) as http, pytest.raises(httpx.TransportError):
        http.post(sandbox.frontends.bank_url("cmb"), content=b"<CMBSDKPGK/>")


def test_bad_xml_from_the_bank_is_a_failed_read_and_an_unknown_submit(sandbox):
    ours = our_account("cmb")
    line = a_line(ours)
    sandbox.set_faults(bank="cmb", script=[{"op": "balances", "fault": "bad_xml"}] * 3
                       + [{"op": "submit", "fault": "bad_xml"}])
    channel = front(sandbox, max_attempts=3)
    try:
        with pytest.raises(BankUnavailable, match="not a readable package") as read:
            channel.balances([ours])
        with pytest.raises(OutcomeUnknown, match="not well-formed") as submit:
            channel.submit(a_batch(ours, [line]), ours, [line])
        [report] = channel.status([line.order.instruction_id])
    finally:
        channel.close()
    assert read.value.bank_code == "malformed_xml" and read.value.raw
    assert submit.value.bank_code == "malformed_xml"
    assert report.outcome is Outcome.ACCEPTED and bookings(sandbox, line) == 1


@pytest.mark.parametrize(("fault", "retcod"), [
    ("drop_after_accept", "-6"),  # B-02: the bank booked, the answer never came
    ("error_after_booking", "-2"),  # B-03
    ("forged_answer", "-5"),  # B-15: the front-end refuses to pass on a forged answer
    ("unsigned_answer", "-5"),
])
def test_an_uncertain_submit_is_unknown_and_a_status_query_settles_it_booked_once(
        sandbox, fault, retcod):
    ours = our_account("cmb")
    line = a_line(ours)
    sandbox.set_faults(bank="cmb", script=[{"op": "submit", "fault": fault}])
    channel = front(sandbox)
    try:
        with pytest.raises(OutcomeUnknown) as unknown:
            channel.submit(a_batch(ours, [line]), ours, [line])
        [report] = channel.status([line.order.instruction_id])
    finally:
        channel.close()
    assert unknown.value.bank_code == retcod
    assert report.outcome is Outcome.ACCEPTED and bookings(sandbox, line) == 1


def test_a_busy_bank_is_retried_and_books_once(sandbox):
    ours = our_account("cmb")
    line = a_line(ours)
    sandbox.set_faults(bank="cmb", script=[{"op": "submit", "fault": "busy"}])
    channel = front(sandbox)
    try:
        ack = channel.submit(a_batch(ours, [line]), ours, [line])
    finally:
        channel.close()
    assert ack.reports[0].outcome is Outcome.ACCEPTED and bookings(sandbox, line) == 1


def test_a_front_end_that_is_down_is_unavailable(sandbox):
    channel = front(sandbox, base_url="http://127.0.0.1:9/", max_attempts=1)
    try:
        with pytest.raises(BankUnavailable, match="cannot reach"):
            channel.balances([our_account("cmb")])
    finally:
        channel.close()


def test_the_front_end_refuses_hostile_xml_without_forwarding_it(sandbox):
    hostile = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
               b"<CMBSDKPGK><INFO><FUNNAM>&a;</FUNNAM></INFO></CMBSDKPGK>")
    before = len(sandbox.security.refusals)
    answer = httpx.post(sandbox.frontends.url("cmb"), content=hostile, timeout=5)
    package = read_package(answer.content, "front-end")
    assert package.info["RETCOD"] == "-1" and "DOCTYPE" in package.info["ERRMSG"]
    assert len(sandbox.security.refusals) == before  # never reached the bank


@needs_samples
def test_real_cmb_answers_are_read_by_the_same_wire_code():
    """GetTransInfo and GetAccInfo answers from CMB's manual (shared/samples/cn-cmb)."""
    history = read_package((SAMPLES / "cn-cmb/GetTransactionInfo.response.xml").read_bytes(),
                           "GetTransactionInfo.response.xml")
    account = our_account("cmb", "1280078810001")
    [entry] = wire.to_entries(history, CMB, account, "sample")
    assert (entry.amount.amount, entry.booking_date) == (Decimal("-450.00"), date(2006, 9, 15))
    assert (entry.bank_reference, entry.counterparty_name) == ("AP090003",
                                                               "北京集团公司收方帐号")
    info = read_package((SAMPLES / "cn-cmb/GetAccountInfo.response.xml").read_bytes(),
                        "GetAccountInfo.response.xml")
    first = our_account("cmb", "769900003510702")
    ledger, available = wire.to_balances(info, CMB, [first], datetime.now(UTC))
    assert (ledger.amount.amount, available.amount.amount) == (Decimal("999997244.20"),
                                                               Decimal("895810211.34"))
    paid = read_package((SAMPLES / "cn-cmb/DirectPayment.response.xml").read_bytes(), "pay")
    assert [r.fields["REQSTS"] for r in paid.of("NTQPAYRQZ")] == ["NTE"]
    assert CMB.outcome("NTE", "") is Outcome.RECEIVED


@needs_samples
def test_every_cmb_sample_is_a_readable_package_with_a_transaction_code():
    for path in sorted((SAMPLES / "cn-cmb").glob("*.xml")):
        package = read_package(path.read_bytes(), path.name)
        assert package.function and package.records, path.name


@pytest.mark.parametrize(("extra", "says"), [
    ({"base_url": "ftp://x"}, "banks.cmb.base_url: must be an http(s) URL"),
    ({"login": ""}, "banks.cmb.login: expected non-empty text"),
    ({"dialect": "icbc"}, "banks.cmb.dialect: 'icbc' is not one of cmb"),
    ({"base_url": "https://fe.example/"}, "banks.cmb.ca_file: required for an https"),
    ({"verify": False}, "banks.cmb: unknown key 'verify'"),
    ({"timeout_s": 0}, "banks.cmb.timeout_s: 0 is out of range"),
])
def test_front_end_configuration_errors_name_the_bank_and_the_key(extra, says):
    mapping = {"base_url": "http://127.0.0.1:8080/", "login": "BANKGATE01", **extra}
    with pytest.raises(ConfigError) as refused:
        open_channel("frontend", "cmb", mapping)
    assert says in str(refused.value)
