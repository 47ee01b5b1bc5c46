"""Verify a payee's account before paying it (账户自动校验): format checks, then the bank.

Format checks come first (domain/verification.py) and a failure there never reaches the bank.
Then the paying bank is asked, where its channel offers `ACCOUNT_NAME_CHECK`, whether the name
holds the account. A bank that offers no check leaves the verdict `unavailable` (not a
failure); a bank that offers it but cannot answer now fails the check with "try again", so
that nothing is paid on a check that was never made. Every verification is recorded; one that
passed is reused for `max_age` so that a monthly payroll does not ask the bank again each time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bankgate.connectors.base import Capability, Channel
from bankgate.domain import AccountNumber, BankId
from bankgate.domain.verification import (
    Check,
    CheckName,
    Verdict,
    Verification,
    format_checks,
    name_check,
)
from bankgate.errors import ChannelError
from bankgate.services._tx import UowFactory, in_transaction

__all__ = ["DEFAULT_MAX_AGE", "PayeeToCheck", "fingerprint", "verify_payee", "verify_payees"]

log = logging.getLogger(__name__)

#: How long a passed verification is trusted for the same account, name, bank and branch.
DEFAULT_MAX_AGE = timedelta(days=30)


@dataclass(frozen=True, slots=True, kw_only=True)
class PayeeToCheck:
    """Whom we are about to pay: name, account, the account's bank, its CNAPS branch code."""

    name: str
    account: AccountNumber
    bank: BankId | None = None
    branch_code: str | None = None


def fingerprint(payee: PayeeToCheck, via: str) -> str:
    """The identity of one verification: the same account, name, banks and branch."""
    text = "|".join((payee.account.kind.value, payee.account.reveal(), payee.name,
                     payee.bank or "", payee.branch_code or "", via))
    return hashlib.sha256(text.encode()).hexdigest()


def verify_payee(payee: PayeeToCheck, *, via: str, uow: UowFactory,
                 channels: Mapping[str, Channel], now: Callable[[], datetime],
                 max_age: timedelta = DEFAULT_MAX_AGE) -> Verification:
    """Check `payee`, asking bank `via` (the paying bank) for the name; recorded."""
    return verify_payees([payee], via=via, uow=uow, channels=channels, now=now,
                         max_age=max_age)[0]


def verify_payees(payees: Sequence[PayeeToCheck], *, via: str, uow: UowFactory,
                  channels: Mapping[str, Channel], now: Callable[[], datetime],
                  max_age: timedelta = DEFAULT_MAX_AGE) -> list[Verification]:
    """Check every payee (one failure stops only its own payment), in order; all recorded."""
    at = now()
    prints = [fingerprint(p, via) for p in payees]
    with uow() as unit:
        trusted = unit.flows.verifications.passed_since(prints, since=at - max_age)
    results: list[Verification] = []
    fresh: list[tuple[str, PayeeToCheck, Verification]] = []
    for payee, print_ in zip(payees, prints, strict=True):
        if print_ in trusted:
            results.append(trusted[print_])
            continue
        verification = _verify(payee, via, channels, at)
        results.append(verification)
        fresh.append((print_, payee, verification))
    if fresh:
        in_transaction(uow, lambda unit: unit.flows.verifications.add_many(
            [(p, str(payee.account), payee.name, via, v) for p, payee, v in fresh]))
    return results


def _verify(payee: PayeeToCheck, via: str, channels: Mapping[str, Channel],
            at: datetime) -> Verification:
    checks = format_checks(payee.account, bank=payee.bank, branch_code=payee.branch_code)
    if all(c.verdict is not Verdict.FAILED for c in checks):
        checks.append(_bank_check(payee, via, channels))
    return Verification(checks=tuple(checks), checked_at=at)


def _bank_check(payee: PayeeToCheck, via: str, channels: Mapping[str, Channel]) -> Check:
    channel = channels.get(via)
    if channel is None or Capability.ACCOUNT_NAME_CHECK not in channel.capabilities:
        return Check(CheckName.BANK_NAME, Verdict.UNAVAILABLE,
                     f"{via}: the bank's channel offers no account-name check")
    try:
        answer = channel.check_account_name(  # type: ignore[attr-defined]
            payee.account, payee.name, payee.bank)
    except ChannelError as exc:
        log.info("account-name check failed", extra={"bank": via, "error": type(exc).__name__})
        return Check(CheckName.BANK_NAME, Verdict.FAILED,
                     f"{via}: the bank could not check the name now; try again later ({exc})")
    return name_check(answer, bank=via)
