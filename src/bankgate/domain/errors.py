"""Errors of the domain: each a ValueError, each message says what, where and the value."""

from __future__ import annotations

from bankgate.errors import DomainError

__all__ = [
    "CurrencyMismatch",
    "IllegalTransition",
    "InvalidAccountNumber",
    "InvalidAmount",
    "InvalidField",
    "InvalidIdentifier",
    "UnknownCurrency",
]


class InvalidAmount(DomainError):
    """An amount that is not a finite decimal, not positive, or too precise for its currency."""

    code = "invalid_amount"


class UnknownCurrency(DomainError):
    """A currency code that is not an active ISO 4217 alphabetic code."""

    code = "unknown_currency"


class CurrencyMismatch(DomainError):
    """Arithmetic or comparison between two different currencies."""

    code = "currency_mismatch"

    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine {left} with {right}")


class InvalidAccountNumber(DomainError):
    """An account number that is not a valid IBAN or domestic account number."""

    code = "invalid_account"


class InvalidIdentifier(DomainError):
    """An identifier (instruction id, batch id) that breaks its length or character rules."""

    code = "invalid_identifier"


class InvalidField(DomainError):
    """A text field (name, remittance) that breaks its rules."""

    code = "invalid_field"


class IllegalTransition(DomainError):
    """A payment order was asked to move to a status its lifecycle does not allow from here."""

    code = "illegal_transition"

    def __init__(self, from_: str, to: str) -> None:
        self.from_ = from_
        self.to = to
        super().__init__(f"a payment order cannot go from {from_} to {to}")
