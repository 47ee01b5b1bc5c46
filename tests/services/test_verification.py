"""Payee account verification (账户自动校验): format checks, then the bank's name check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bankgate.domain import AccountKind, AccountNumber, bank_id
from bankgate.domain.verification import CheckName, Verdict, cnaps_check, format_checks
from bankgate.sandbox.run import RunningSandbox
from bankgate.services.verification import (
    PayeeToCheck,
    fingerprint,
    verify_payee,
    verify_payees,
)
from tests.builders import NOW
from tests.flows_world import EMPLOYEES, UNHELD_CARD, card, gateway, running_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
def app(store_url, sandbox):
    with gateway(store_url, sandbox) as application:
        application.now = lambda: NOW
        yield application
    sandbox.set_faults(reset=True)


def payee(employee: str, *, name: str | None = None, branch: str | None = None) -> PayeeToCheck:
    who, bank, number, _ = EMPLOYEES[employee]
    return PayeeToCheck(name=name or who, account=AccountNumber.parse(number),
                        bank=bank_id(bank), branch_code=branch)


def verdicts(verification) -> dict[str, str]:
    return {c.name.value: c.verdict.value for c in verification.checks}


def test_a_card_with_a_wrong_luhn_digit_fails_before_the_bank_is_asked():
    good = card("622202", 1001)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    checks = format_checks(AccountNumber.parse(bad), bank=bank_id("icbc"))
    failed = [c for c in checks if c.verdict is Verdict.FAILED]
    assert [c.name for c in failed] == [CheckName.CARD_LUHN]
    assert "Luhn check digit is wrong" in failed[0].detail
    assert bad not in failed[0].detail  # never the full number (INV-7)


def test_a_corporate_account_number_is_not_held_to_the_card_rule():
    checks = format_checks(AccountNumber.parse("1202020109000001111"))
    assert {c.name: c.verdict for c in checks} == {
        CheckName.DOMESTIC_SHAPE: Verdict.PASSED, CheckName.CARD_LUHN: Verdict.NOT_APPLICABLE}


@pytest.mark.parametrize(("number", "why"), [
    ("1234567", "7 digits"), ("0000000000000000", "one digit repeated"),
    ("1" * 31, "31 digits")])
def test_domestic_numbers_of_the_wrong_shape_fail(number, why):
    checks = format_checks(AccountNumber(number, AccountKind.DOMESTIC))
    assert checks[0].verdict is Verdict.FAILED and why in checks[0].detail


def test_an_iban_with_wrong_check_digits_fails_and_a_right_one_passes():
    assert format_checks(AccountNumber.parse("DE89370400440532013000"))[0].verdict \
        is Verdict.PASSED
    wrong = format_checks(AccountNumber("DE00370400440532013000", AccountKind.IBAN))[0]
    assert wrong.name is CheckName.IBAN and wrong.verdict is Verdict.FAILED


@pytest.mark.parametrize(("code", "bank", "verdict", "why"), [
    ("102100099996", "icbc", Verdict.PASSED, "category 102"),
    ("10210009999", "icbc", Verdict.FAILED, "12 digits"),
    ("10210009999X", None, Verdict.FAILED, "12 digits"),
    ("308584000013", "icbc", Verdict.FAILED, "payee's bank icbc is 102"),
    ("999584000013", None, Verdict.PASSED, "category 999"),
])
def test_cnaps_bank_codes_are_twelve_digits_of_the_payees_bank(code, bank, verdict, why):
    check = cnaps_check(code, bank=bank_id(bank) if bank else None)
    assert check.verdict is verdict and why in check.detail


def test_the_bank_confirms_a_right_name_and_the_verification_passes(app):
    result = verify_payee(payee("E001"), via="icbc", uow=app.uow, channels=app.channels,
                          now=app.now)
    assert result.passed and result.reason is None
    assert verdicts(result)["bank_name"] == "passed"


def test_a_name_that_is_not_the_holders_fails_with_the_banks_reason(app):
    result = verify_payee(payee("E002", name="李娜娜"), via="icbc", uow=app.uow,
                          channels=app.channels, now=app.now)
    assert not result.passed
    assert result.reason == ("bank_name: icbc: the bank says the name is not the account "
                             "holder's (户名不符)")


@pytest.mark.parametrize(("who", "number", "expected"), [
    ("E004", None, "account is closed"), ("E001", UNHELD_CARD, "does not know the account")])
def test_closed_and_unknown_accounts_fail_at_the_bank(app, who, number, expected):
    base = payee(who)
    checked = PayeeToCheck(name=base.name, account=AccountNumber.parse(number or
                                                                       base.account.reveal()),
                           bank=base.bank)
    result = verify_payee(checked, via="cmb", uow=app.uow, channels=app.channels, now=app.now)
    assert not result.passed and expected in (result.reason or "")


def test_an_account_at_a_bank_outside_the_sandbox_is_unverifiable_not_failed(app):
    outside = PayeeToCheck(name="赵敏", account=AccountNumber.parse(card("622848", 7)),
                           bank=bank_id("abc"))
    result = verify_payee(outside, via="icbc", uow=app.uow, channels=app.channels, now=app.now)
    assert result.passed and verdicts(result)["bank_name"] == "unavailable"


def test_one_failed_payee_stops_only_itself(app):
    results = verify_payees([payee("E001"), payee("E004"), payee("E003")], via="boc",
                            uow=app.uow, channels=app.channels, now=app.now)
    assert [r.passed for r in results] == [True, False, True]


def test_a_bank_that_cannot_answer_fails_the_check_with_try_again(app, sandbox):
    sandbox.set_faults("cmb", error_rate=1.0)
    result = verify_payee(payee("E005"), via="cmb", uow=app.uow, channels=app.channels,
                          now=app.now)
    assert not result.passed and "try again later" in (result.reason or "")


def test_a_passed_verification_is_reused_without_asking_the_bank_again(app, sandbox):
    first = verify_payee(payee("E003"), via="boc", uow=app.uow, channels=app.channels,
                         now=app.now)
    sandbox.set_faults("boc", error_rate=1.0)  # the bank is down now
    again = verify_payee(payee("E003"), via="boc", uow=app.uow, channels=app.channels,
                         now=app.now)
    assert first.passed and again.passed and again.checked_at == first.checked_at
    later = verify_payee(payee("E003"), via="boc", uow=app.uow, channels=app.channels,
                         now=lambda: NOW + timedelta(days=31))
    assert not later.passed  # too old to trust, and the bank cannot answer now


def test_a_failed_verification_is_never_reused(app, sandbox):
    wrong = payee("E001", name="张伟伟")
    assert not verify_payee(wrong, via="icbc", uow=app.uow, channels=app.channels,
                            now=app.now).passed
    with app.uow() as unit:
        assert unit.flows.verifications.passed_since(
            [fingerprint(wrong, "icbc")], since=NOW - timedelta(days=1)) == {}
