"""Payee account verification (账户自动校验): format checks as pure functions, verdicts as data.

Before money goes to an account we check what can be checked without the bank — the IBAN
(ISO 13616 check digits, via schwifty), a UnionPay card number (ISO/IEC 7812 Luhn check
digit, via python-stdnum), the shape of a domestic account number and of a CNAPS bank code
(联行号) — and then, where the bank offers it, ask the bank whether the name is the
account holder's (`NameMatch`). Each check is a `Check`; a `Verification` passes when none
failed, and its `reason` is one line naming the first failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from stdnum import luhn

from bankgate.domain.parties import AccountKind, AccountNumber, BankId

__all__ = [
    "CNAPS_BANK_CODES",
    "Check",
    "CheckName",
    "NameMatch",
    "Verdict",
    "Verification",
    "cnaps_check",
    "format_checks",
    "is_card_number",
    "name_check",
]


class CheckName(StrEnum):
    """Which check."""

    IBAN = "iban"
    CARD_LUHN = "card_luhn"
    DOMESTIC_SHAPE = "domestic_shape"
    CNAPS_CODE = "cnaps_code"
    BANK_NAME = "bank_name"


class Verdict(StrEnum):
    """What one check found."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"  # e.g. Luhn on a corporate account number
    UNAVAILABLE = "unavailable"  # the bank offers no name check for this account


class NameMatch(StrEnum):
    """A bank's answer to "is this name the holder of this account?" (户名核验)."""

    MATCH = "match"
    MISMATCH = "mismatch"
    CLOSED = "closed"
    UNKNOWN_ACCOUNT = "unknown_account"
    NOT_COVERED = "not_covered"  # the bank cannot tell (an account at a bank it does not reach)


@dataclass(frozen=True, slots=True)
class Check:
    """One check and its verdict; `detail` says what was found, never the full number."""

    name: CheckName
    verdict: Verdict
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """Every check made on one payee account, and when."""

    checks: tuple[Check, ...]
    checked_at: datetime

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(c.verdict is not Verdict.FAILED for c in self.checks)

    @property
    def reason(self) -> str | None:
        """The first failure as one line ("card_luhn: ..."), None when it passed."""
        for check in self.checks:
            if check.verdict is Verdict.FAILED:
                return f"{check.name.value}: {check.detail}"
        return None


#: CNAPS 行别代码 (the first three digits of a 12-digit bank code) of the banks we know,
#: by bankgate bank id. A code outside this table is not refused, only not cross-checked.
CNAPS_BANK_CODES: Final[Mapping[str, str]] = MappingProxyType({
    "icbc": "102", "abc": "103", "boc": "104", "ccb": "105", "bocom": "301", "citic": "302",
    "ceb": "303", "hxb": "304", "cmbc": "305", "cgb": "306", "pab": "307", "cmb": "308",
    "cib": "309", "spdb": "310", "psbc": "403",
})

_CNAPS: Final = re.compile(r"[0-9]{12}")
#: UnionPay cards carry IINs starting with 62 (ISO/IEC 7812) and are 16 to 19 digits long.
_UNIONPAY_CARD: Final = re.compile(r"62[0-9]{14,17}")
#: Chinese domestic account numbers (对公账户 and 借记卡) run from 8 to 30 digits.
_DOMESTIC_MIN, _DOMESTIC_MAX = 8, 30


def is_card_number(digits: str) -> bool:
    """True for a number shaped like a UnionPay card (62…, 16-19 digits)."""
    return bool(_UNIONPAY_CARD.fullmatch(digits))


def format_checks(account: AccountNumber, *, bank: BankId | None = None,
                  branch_code: str | None = None) -> list[Check]:
    """What can be checked without the bank: IBAN, card Luhn, domestic shape, CNAPS code."""
    checks = [_iban(account)] if account.kind is AccountKind.IBAN else list(_domestic(account))
    if branch_code is not None:
        checks.append(cnaps_check(branch_code, bank=bank))
    return checks


def _iban(account: AccountNumber) -> Check:
    from schwifty import IBAN  # deferred, as in parties.py: ~35 ms to import
    from schwifty.exceptions import SchwiftyException

    try:
        IBAN(account.reveal())
    except SchwiftyException as exc:
        return Check(CheckName.IBAN, Verdict.FAILED, f"{account} is not a valid IBAN: {exc}")
    return Check(CheckName.IBAN, Verdict.PASSED, f"{account}: IBAN check digits are right")


def _domestic(account: AccountNumber) -> Iterable[Check]:
    digits = account.reveal()
    if not _DOMESTIC_MIN <= len(digits) <= _DOMESTIC_MAX:
        yield Check(CheckName.DOMESTIC_SHAPE, Verdict.FAILED,
                    f"{account} has {len(digits)} digits; domestic accounts have "
                    f"{_DOMESTIC_MIN} to {_DOMESTIC_MAX}")
        return
    if len(set(digits)) == 1:
        yield Check(CheckName.DOMESTIC_SHAPE, Verdict.FAILED,
                    f"{account} is one digit repeated, not an account number")
        return
    yield Check(CheckName.DOMESTIC_SHAPE, Verdict.PASSED, f"{account}: {len(digits)} digits")
    if not is_card_number(digits):
        yield Check(CheckName.CARD_LUHN, Verdict.NOT_APPLICABLE,
                    f"{account} is not a UnionPay card number")
    elif luhn.is_valid(digits):
        yield Check(CheckName.CARD_LUHN, Verdict.PASSED, f"{account}: Luhn check digit is right")
    else:
        yield Check(CheckName.CARD_LUHN, Verdict.FAILED,
                    f"{account} looks like a UnionPay card but its Luhn check digit is "
                    "wrong (a mistyped digit?)")


def cnaps_check(code: str, *, bank: BankId | None = None) -> Check:
    """A CNAPS bank code (联行号): 12 digits; its bank category must be the payee's bank."""
    if not _CNAPS.fullmatch(code):
        return Check(CheckName.CNAPS_CODE, Verdict.FAILED,
                     f"{code!r} is not a CNAPS bank code (12 digits)")
    expected = CNAPS_BANK_CODES.get(bank) if bank else None
    if expected is not None and code[:3] != expected:
        return Check(CheckName.CNAPS_CODE, Verdict.FAILED,
                     f"{code} belongs to bank category {code[:3]}, but the payee's bank "
                     f"{bank} is {expected}")
    return Check(CheckName.CNAPS_CODE, Verdict.PASSED, f"{code}: bank category {code[:3]}")


_NAME_VERDICTS: Final = {
    NameMatch.MATCH: (Verdict.PASSED, "the bank confirms the name is the account holder's"),
    NameMatch.MISMATCH: (Verdict.FAILED, "the bank says the name is not the account "
                                         "holder's (户名不符)"),
    NameMatch.CLOSED: (Verdict.FAILED, "the bank says the account is closed (账户已销户)"),
    NameMatch.UNKNOWN_ACCOUNT: (Verdict.FAILED, "the bank does not know the account "
                                                "(账号不存在)"),
    NameMatch.NOT_COVERED: (Verdict.UNAVAILABLE, "the bank cannot check accounts at that bank"),
}


def name_check(answer: NameMatch, *, bank: str) -> Check:
    """The check a bank's name-verification answer makes."""
    verdict, text = _NAME_VERDICTS[answer]
    return Check(CheckName.BANK_NAME, verdict, f"{bank}: {text}")
