"""The sandbox banks' dialects: each bank's own status and error codes (hostapi-protocol.md).

Canonical meanings are the left column of the protocol's Dialects table; the sandbox works in
meanings and speaks codes only on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = ["DIALECTS", "Dialect", "ErrorMeaning", "StatusMeaning", "dialect"]


class StatusMeaning(StrEnum):
    """What an order's status means, whatever the bank calls it."""

    RECEIVED = "received"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    ACCEPTED = "accepted"
    SETTLED = "settled"
    REJECTED = "rejected"
    RETURNED = "returned"
    NOT_FOUND = "not_found"


class ErrorMeaning(StrEnum):
    """What an error means, whatever the bank calls it."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_ACCOUNT = "unknown_account"
    CLOSED_ACCOUNT = "closed_account"
    NAME_MISMATCH = "name_mismatch"
    DUPLICATE_INSTRUCTION = "duplicate_instruction"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_DEBTOR = "unknown_debtor"
    INTERNAL = "internal"
    BUSY = "busy"
    RATE_LIMITED = "rate_limited"
    CONFIRMATION_REFUSED = "confirmation_refused"  # refused in the bank's portal (B-19)
    RETRY_WINDOW_EXPIRED = "retry_window_expired"  # a resend past the retry window (B-06)


@dataclass(frozen=True, slots=True)
class Dialect:
    """One bank's code tables: meaning → code, for statuses and for errors."""

    name: str
    statuses: Mapping[StatusMeaning, str]
    errors: Mapping[ErrorMeaning, str]

    def status(self, meaning: StatusMeaning) -> str:
        """The bank's code for this status."""
        return self.statuses[meaning]

    def error(self, meaning: ErrorMeaning) -> str:
        """The bank's code for this error."""
        return self.errors[meaning]


def _table(name: str, statuses: tuple[str, ...], errors: tuple[str, ...]) -> Dialect:
    return Dialect(name, MappingProxyType(dict(zip(StatusMeaning, statuses, strict=True))),
                   MappingProxyType(dict(zip(ErrorMeaning, errors, strict=True))))


# Columns in the order of StatusMeaning and ErrorMeaning (the protocol doc's table).
DIALECTS: Final[Mapping[str, Dialect]] = MappingProxyType({
    "icbc": _table("icbc", ("10", "15", "20", "30", "40", "50", "99"),
                   ("E2001", "E2002", "E2003", "E2004", "E1009", "E1000", "E2010", "E9999",
                    "E9001", "E9002", "E3001", "E3002")),
    "cmb": _table("cmb", ("BNK", "AUT", "ACC", "FIN-S", "FIN-F", "FIN-B", "NOT_FOUND"),
                  ("ACC_BALANCE_LACK", "ACC_NOT_EXIST", "ACC_CLOSED", "ACC_NAME_ERR", "DUP_REQ",
                   "PARAM_ERR", "PAYER_NOT_EXIST", "SYS_ERR", "SYS_BUSY", "FREQ_LIMIT",
                   "AUT_REFUSED", "RETRY_EXPIRED")),
    "boc": _table("boc", ("ACTC", "PDNG", "ACCP", "ACSC", "RJCT", "RTND", "NOTF"),
                  ("AM04", "AC01", "AC04", "BE01", "DU05", "FF01", "AC02", "MS03", "TM01",
                   "RL01", "CUST", "RTXP")),
})


def dialect(name: str) -> Dialect:
    """The dialect called `name`; a ValueError naming the known ones otherwise."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"dialect {name!r} is not one of {sorted(DIALECTS)}") from None
