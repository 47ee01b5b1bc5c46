"""Money: a Decimal amount in an ISO 4217 currency, exact to the currency's minor unit.

The currency table is data from ISO 4217 (alphabetic code, numeric code, minor units) for the
currencies a treasury meets; `currency("XYZ")` refuses anything else. Amounts come from
strings or Decimals only: a float is refused, as are exponents, NaN, infinities and more
decimals than the currency allows. Stored amounts are integer minor units (`to_minor`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from bankgate.domain.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

__all__ = ["CURRENCIES", "MAX_AMOUNT_DIGITS", "Currency", "Money", "currency", "parse_amount"]

#: An amount has at most this many integer digits (1e15 in any currency is beyond any payment;
#: it also keeps minor units inside a signed 64-bit column for 3-decimal currencies).
MAX_AMOUNT_DIGITS: Final = 15


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency: alphabetic code, numeric code and minor units (exponent)."""

    code: str
    numeric: str
    minor_units: int

    @property
    def quantum(self) -> Decimal:
        """The smallest amount step: 0.01 for CNY, 1 for JPY, 0.001 for KWD."""
        return Decimal(1).scaleb(-self.minor_units)

    def __str__(self) -> str:
        return self.code


# ISO 4217 (amendment 178): code, numeric, minor units.
_ISO4217: Final = (
    ("AED", "784", 2), ("AUD", "036", 2), ("BHD", "048", 3), ("BRL", "986", 2),
    ("CAD", "124", 2), ("CHF", "756", 2), ("CLP", "152", 0), ("CNY", "156", 2),
    ("CZK", "203", 2), ("DKK", "208", 2), ("EUR", "978", 2), ("GBP", "826", 2),
    ("HKD", "344", 2), ("HUF", "348", 2), ("IDR", "360", 2), ("ILS", "376", 2),
    ("INR", "356", 2), ("ISK", "352", 0), ("JOD", "400", 3), ("JPY", "392", 0),
    ("KRW", "410", 0), ("KWD", "414", 3), ("MKD", "807", 2), ("MOP", "446", 2),
    ("MXN", "484", 2),
    ("MYR", "458", 2), ("NOK", "578", 2), ("NZD", "554", 2), ("OMR", "512", 3),
    ("PHP", "608", 2), ("PLN", "985", 2), ("RUB", "643", 2), ("SAR", "682", 2),
    ("SEK", "752", 2), ("SGD", "702", 2), ("THB", "764", 2), ("TND", "788", 3),
    ("TRY", "949", 2), ("TWD", "901", 2), ("USD", "840", 2), ("VND", "704", 0),
    ("ZAR", "710", 2),
)

CURRENCIES: Final[dict[str, Currency]] = {
    code: Currency(code, numeric, units) for code, numeric, units in _ISO4217
}


def currency(code: str) -> Currency:
    """The currency with this ISO 4217 alphabetic code (upper case, exactly as written)."""
    found = CURRENCIES.get(code) if isinstance(code, str) else None
    if found is None:
        raise UnknownCurrency(f"{code!r} is not a supported ISO 4217 currency code")
    return found


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency; arithmetic only between equal currencies."""

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidAmount(f"amount must be a finite Decimal, got {self.amount!r}")
        if self.amount != self.amount.quantize(self.currency.quantum):
            raise InvalidAmount(
                f"{self.amount} has more decimals than {self.currency.code} allows "
                f"({self.currency.minor_units})"
            )
        if self.amount.adjusted() >= MAX_AMOUNT_DIGITS:
            raise InvalidAmount(f"{self.amount} is larger than any payment bankgate accepts")

    @classmethod
    def zero(cls, currency: Currency) -> Money:
        """Nothing, in this currency."""
        return cls(Decimal(0).quantize(currency.quantum), currency)

    @classmethod
    def from_minor(cls, units: int, currency: Currency) -> Money:
        """The amount of `units` minor units (cents, fen) of `currency`."""
        return cls(Decimal(units).scaleb(-currency.minor_units), currency)

    def to_minor(self) -> int:
        """Integer minor units; exact because the amount is quantised on construction."""
        return int(self.amount.scaleb(self.currency.minor_units))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency.code, other.currency.code)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __radd__(self, other: object) -> Money:
        if other == 0:  # so that sum() works
            return self
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    @property
    def is_positive(self) -> bool:
        """True when the amount is above zero."""
        return self.amount > 0

    def __str__(self) -> str:
        return f"{self.amount:f} {self.currency.code}"


_PLAIN_DECIMAL: Final = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def parse_amount(text: str, cur: Currency, *, field: str = "amount") -> Money:
    """Money from a plain decimal string such as "1234.50".

    Refuses floats and other non-strings, exponents ("1e3"), NaN/Infinity, thousands
    separators, leading zeros and signs other than "-", and more decimals than `cur` allows.
    Raises:
        InvalidAmount: naming `field` and the value.
    """
    if not isinstance(text, str):
        raise InvalidAmount(
            f"{field}: amounts must be given as decimal strings, got {type(text).__name__} "
            f"{text!r}"
        )
    raw = text.strip()
    if not _PLAIN_DECIMAL.fullmatch(raw):
        raise InvalidAmount(f"{field}: {text!r} is not a plain decimal number like 1234.50")
    integer_part = raw.lstrip("-").split(".")[0]
    if len(integer_part) > MAX_AMOUNT_DIGITS:
        raise InvalidAmount(f"{field}: {text!r} is larger than any payment bankgate accepts")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
        raise InvalidAmount(f"{field}: {text!r} is not a decimal") from exc
    decimals = -value.as_tuple().exponent  # type: ignore[operator]
    if decimals > cur.minor_units:
        raise InvalidAmount(
            f"{field}: {text} has more decimals than {cur.code} allows ({cur.minor_units})"
        )
    return Money(value.quantize(cur.quantum), cur)
