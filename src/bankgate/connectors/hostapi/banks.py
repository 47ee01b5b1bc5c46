"""Each bank's codes, as data: status code → outcome, error code → what it means.

From docs/hostapi-protocol.md (Dialects). A code missing from a table is never guessed: a
status becomes `Outcome.UNRECOGNIZED` and an error `ErrorClass.UNKNOWN`, both with the raw
code kept (B-13).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bankgate.connectors.base import ErrorClass
from bankgate.domain import Outcome

__all__ = ["DIALECTS", "BankError", "Dialect"]


R, T, U = ErrorClass.RETRYABLE, ErrorClass.TERMINAL, ErrorClass.UNKNOWN


@dataclass(frozen=True, slots=True)
class BankError:
    """What one bank error code means: may we retry, the ISO 20022 reason, a short text."""

    kind: ErrorClass
    reason_code: str
    text: str


@dataclass(frozen=True, slots=True)
class Dialect:
    """One bank's code tables."""

    name: str
    statuses: Mapping[str, Outcome]
    errors: Mapping[str, BankError]
    duplicate_code: str  # the line error for an instruction id the bank already holds

    def outcome(self, code: str) -> Outcome:
        """The outcome a status code means; UNRECOGNIZED when the table lacks it."""
        return self.statuses.get(code, Outcome.UNRECOGNIZED)

    def error(self, code: str) -> BankError:
        """What an error code means; unknown codes are of unknown effect."""
        return self.errors.get(code, BankError(U, "NARR", f"unrecognised bank code {code!r}"))


def _errors(codes: tuple[str, ...]) -> dict[str, BankError]:
    meanings = (
        (T, "AM04", "insufficient funds"),
        (T, "AC01", "payee account unknown"),
        (T, "AC04", "payee account closed"),
        (T, "BE01", "payee name does not match the account holder"),
        (U, "DU05", "instruction id already held by the bank"),
        (T, "FF01", "request refused as invalid"),
        (T, "AC02", "debtor account unknown"),
        (U, "MS03", "bank internal error; the outcome is not known"),
        (R, "TM01", "bank busy; nothing was done"),
        (R, "RL01", "rate limited; nothing was done"),
    )
    return {code: BankError(*meaning) for code, meaning in zip(codes, meanings, strict=True)}


def _dialect(name: str, statuses: tuple[str, ...], errors: tuple[str, ...]) -> Dialect:
    outcomes = (Outcome.RECEIVED, Outcome.AWAITING_CONFIRMATION, Outcome.ACCEPTED,
                Outcome.SETTLED, Outcome.REJECTED, Outcome.RETURNED, Outcome.NOT_FOUND)
    return Dialect(name, dict(zip(statuses, outcomes, strict=True)), _errors(errors),
                   duplicate_code=errors[4])


DIALECTS: Final[Mapping[str, Dialect]] = {
    "icbc": _dialect("icbc", ("10", "15", "20", "30", "40", "50", "99"),
                     ("E2001", "E2002", "E2003", "E2004", "E1009", "E1000", "E2010", "E9999",
                      "E9001", "E9002")),
    "cmb": _dialect("cmb", ("BNK", "AUT", "ACC", "FIN-S", "FIN-F", "FIN-B", "NOT_FOUND"),
                    ("ACC_BALANCE_LACK", "ACC_NOT_EXIST", "ACC_CLOSED", "ACC_NAME_ERR",
                     "DUP_REQ", "PARAM_ERR", "PAYER_NOT_EXIST", "SYS_ERR", "SYS_BUSY",
                     "FREQ_LIMIT")),
    "boc": _dialect("boc", ("ACTC", "PDNG", "ACCP", "ACSC", "RJCT", "RTND", "NOTF"),
                    ("AM04", "AC01", "AC04", "BE01", "DU05", "FF01", "AC02", "MS03", "TM01",
                     "RL01")),
}
