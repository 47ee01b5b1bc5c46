"""Parties: bank ids, account numbers, our company accounts and the payees we pay."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, NewType

from bankgate.domain.errors import InvalidAccountNumber, InvalidField
from bankgate.domain.ids import AccountId
from bankgate.domain.money import Currency

__all__ = [
    "AccountKind",
    "AccountNumber",
    "BankId",
    "CompanyAccount",
    "Payee",
    "bank_id",
    "clean_text",
    "mask_numbers",
]

BankId = NewType("BankId", str)

_BANK_ID: Final = re.compile(r"[a-z][a-z0-9_]{1,31}")
_DOMESTIC: Final = re.compile(r"[0-9]{6,34}")
_IBAN_SHAPE: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}")


def bank_id(text: str, *, field: str = "bank") -> BankId:
    """A bank id as configured ("icbc", "cmb_sh"): lower-case letters, digits, '_'."""
    if not isinstance(text, str) or not _BANK_ID.fullmatch(text):
        raise InvalidField(f"{field}: {text!r} is not a bank id (a-z, 0-9, '_', 2-32 chars)")
    return BankId(text)


class AccountKind(StrEnum):
    """How an account is numbered."""

    IBAN = "iban"
    DOMESTIC = "domestic"  # a bank's own number: Chinese accounts and cards are 6-34 digits


@dataclass(frozen=True, slots=True)
class AccountNumber:
    """An account number, valid once built; shown masked, revealed only for bank messages."""

    digits: str = field(repr=False)
    kind: AccountKind

    @classmethod
    def parse(cls, text: str, *, field: str = "account") -> AccountNumber:
        """An IBAN (checked by schwifty) or a domestic number of 6-34 ASCII digits.

        Spaces are allowed only as IBAN print-format groups; full-width digits, letters in a
        domestic number, dashes and control characters are refused.
        """
        if not isinstance(text, str):
            raise InvalidAccountNumber(f"{field}: expected a string, got {type(text).__name__}")
        if _DOMESTIC.fullmatch(text):
            return cls(text, AccountKind.DOMESTIC)
        compact = text.replace(" ", "")
        if _IBAN_SHAPE.fullmatch(compact):
            # deferred: importing schwifty reads its bank registry (~35 ms on every start)
            from schwifty import IBAN
            from schwifty.exceptions import SchwiftyException

            try:
                return cls(str(IBAN(compact).compact), AccountKind.IBAN)
            except SchwiftyException as exc:
                raise InvalidAccountNumber(f"{field}: {_mask(compact)} is not a valid IBAN: "
                                           f"{exc}") from exc
        raise InvalidAccountNumber(
            f"{field}: {_mask(text)!r} is neither an IBAN nor 6-34 ASCII digits"
        )

    def reveal(self) -> str:
        """The full number, for the bank message only. Grep for reveal() to audit disclosure."""
        return self.digits

    def __str__(self) -> str:
        return _mask(self.digits)

    def __repr__(self) -> str:
        return f"AccountNumber({_mask(self.digits)!r})"


def _mask(text: str) -> str:
    if len(text) <= 8:
        return "*" * len(text)
    return f"{text[:4]}****{text[-4:]}"


_NUMBER_IN_TEXT: Final = re.compile(r"(?<![0-9A-Za-z])(?:[A-Z]{2}[0-9]{2})?[0-9]{8,34}(?![0-9])")


def mask_numbers(text: str) -> str:
    """`text` with every account-like number (8+ digits, or an IBAN) masked (INV-7).

    For texts from outside (a bank's error message) before they are stored or shown.
    """
    return _NUMBER_IN_TEXT.sub(lambda m: _mask(m.group(0)), text)


_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_text(value: object, *, field: str, max_len: int, required: bool = True) -> str:
    """Text for a name or remittance line: trimmed, NFC, no control or bidi-override characters.

    ISO 20022 names are Max140Text; banks count characters, and so do we.
    """
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidField(f"{field}: expected text, got {type(value).__name__}")
    text = unicodedata.normalize("NFC", value.strip())
    if required and not text:
        raise InvalidField(f"{field}: must not be empty")
    if len(text) > max_len:
        raise InvalidField(f"{field}: {len(text)} characters, at most {max_len} allowed")
    for position, char in enumerate(text):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise InvalidField(
                f"{field}: character {position + 1} (U+{ord(char):04X}) is a control or "
                "formatting character"
            )
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class CompanyAccount:
    """One of our accounts at a bank (账户); single-currency, reached through one channel."""

    id: AccountId
    bank: BankId
    number: AccountNumber
    currency: Currency
    name: str  # the account holder's name as the bank knows it
    purpose: str = "operating"


@dataclass(frozen=True, slots=True, kw_only=True)
class Payee:
    """Whom an order pays: name, account and (for domestic accounts) the payee's bank."""

    name: str
    account: AccountNumber
    bank: BankId | None = None
