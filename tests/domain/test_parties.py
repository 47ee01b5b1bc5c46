"""Account numbers and texts are valid once built; numbers print masked (INV-7)."""

from __future__ import annotations

import pytest

from bankgate.domain import (
    AccountKind,
    AccountNumber,
    InvalidAccountNumber,
    InvalidField,
    clean_text,
)


def test_domestic_numbers_are_six_to_thirty_four_ascii_digits_and_print_masked():
    number = AccountNumber.parse("6222020200001234567")
    assert number.kind is AccountKind.DOMESTIC and number.reveal() == "6222020200001234567"
    assert str(number) == "6222****4567" and "0200001234" not in repr(number)


def test_ibans_are_checked_and_normalised():
    number = AccountNumber.parse("DE89 3704 0044 0532 0130 00")
    assert number.kind is AccountKind.IBAN and number.reveal() == "DE89370400440532013000"


@pytest.mark.parametrize(
    "text",
    [
        "DE89370400440532013001",  # bad check digits
        "6222 0202 0000 1234",  # spaces in a domestic number
        "62220202000O1234",  # a letter O
        "６２２２０２０２０００１２３４",  # full-width digits
        "12345",
        "1" * 35,
        "",
        "6222-0202-0000-1234",
    ],
)
def test_malformed_account_numbers_are_refused_without_echoing_them_whole(text):
    with pytest.raises(InvalidAccountNumber) as err:
        AccountNumber.parse(text, field="payee_account")
    assert "payee_account" in str(err.value)
    if len(text) > 8:
        assert text not in str(err.value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "must not be empty"),
        ("a\u202eb", r"U\+202E"),
        ("a\x07b", r"U\+0007"),
        ("x" * 141, "at most 140"),
        (5, "expected text"),
    ],
)
def test_names_with_control_characters_or_too_long_are_refused(value, says):
    with pytest.raises(InvalidField, match=says):
        clean_text(value, field="payee_name", max_len=140)


def test_names_keep_chinese_and_emoji_and_are_trimmed():
    assert (
        clean_text("  上海某某贸易有限公司 🚀 ", field="n", max_len=140)
        == "上海某某贸易有限公司 🚀"
    )
