"""Money is Decimal in an ISO 4217 currency, exact to its minor unit; nonsense is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bankgate.domain import (
    CURRENCIES,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    UnknownCurrency,
    currency,
    parse_amount,
)

CNY, JPY, EUR, USD, KWD = (currency(c) for c in ("CNY", "JPY", "EUR", "USD", "KWD"))


def test_the_required_currencies_have_their_iso_4217_minor_units():
    assert [(c.code, c.numeric, c.minor_units) for c in (CNY, EUR, USD, JPY)] == [
        ("CNY", "156", 2),
        ("EUR", "978", 2),
        ("USD", "840", 2),
        ("JPY", "392", 0),
    ]
    assert KWD.minor_units == 3 and CNY.quantum == Decimal("0.01") and JPY.quantum == 1


@pytest.mark.parametrize("code", ["cny", "XXX", "", "CN", "CNYY", None, 156])
def test_unknown_or_lowercase_currency_codes_are_refused(code):
    with pytest.raises(UnknownCurrency):
        currency(code)


@pytest.mark.parametrize(
    ("text", "cur", "expected"),
    [
        ("12.50", CNY, "12.50"),
        ("12.5", CNY, "12.50"),
        ("12", CNY, "12.00"),
        ("1200", JPY, "1200"),
        ("0.001", KWD, "0.001"),
        ("-3.10", EUR, "-3.10"),
    ],
)
def test_plain_decimal_strings_become_exact_money(text, cur, expected):
    assert parse_amount(text, cur).amount == Decimal(expected)
    assert str(parse_amount(text, cur).amount) == expected


@pytest.mark.parametrize(
    ("value", "cur", "says"),
    [
        ("0.001", CNY, "more decimals than CNY allows (2)"),
        ("100.5", JPY, "more decimals than JPY allows (0)"),
        ("1e3", CNY, "not a plain decimal"),
        ("NaN", CNY, "not a plain decimal"),
        ("Infinity", CNY, "not a plain decimal"),
        ("1,000.00", CNY, "not a plain decimal"),
        ("+5", CNY, "not a plain decimal"),
        ("012", CNY, "not a plain decimal"),
        ("１２", CNY, "not a plain decimal"),  # full-width digits
        ("", CNY, "not a plain decimal"),
        ("1" * 40, CNY, "larger than any payment"),
        (12.5, CNY, "decimal strings, got float"),
        (12, CNY, "decimal strings, got int"),
        (Decimal("12.5"), CNY, "decimal strings, got Decimal"),
    ],
)
def test_amounts_that_are_not_plain_exact_strings_are_refused_with_the_reason(value, cur, says):
    with pytest.raises(InvalidAmount, match="amount") as err:
        parse_amount(value, cur)
    assert says in str(err.value)


def test_money_refuses_floats_and_excess_precision_when_built_directly():
    with pytest.raises(InvalidAmount, match=r"finite Decimal, got 12\.5"):
        Money(12.5, CNY)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount, match="more decimals"):
        Money(Decimal("1.005"), CNY)
    with pytest.raises(InvalidAmount):
        Money(Decimal("NaN"), CNY)


def test_arithmetic_only_between_equal_currencies_and_sum_works():
    total = sum([Money(Decimal("1.10"), CNY), Money(Decimal("2.20"), CNY)])
    assert total == Money(Decimal("3.30"), CNY)
    with pytest.raises(CurrencyMismatch):
        Money(Decimal(1), CNY) + Money(Decimal(1), EUR)
    with pytest.raises(TypeError):
        assert Money(Decimal(1), CNY) < 5  # type: ignore[operator]


@given(
    units=st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    code=st.sampled_from(sorted(CURRENCIES)),
)
def test_minor_units_round_trip_exactly(units, code):
    cur = currency(code)
    money = Money.from_minor(units, cur)
    assert money.to_minor() == units
    assert parse_amount(f"{money.amount:f}", cur) == money
