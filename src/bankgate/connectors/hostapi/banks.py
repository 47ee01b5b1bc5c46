"""Each bank's codes, as data: status code → outcome, error code → what it means.

From docs/hostapi-protocol.md (Dialects). An error has two classes: what it means after a
submit (which moves money) and after a read (balances, history, status, statement: always
safe to repeat, so an "internal error" there is simply retryable). A code missing from a
table is never guessed: a status becomes `Outcome.UNRECOGNIZED` and an error
`ErrorClass.UNKNOWN` (reason `NARR`), both with the raw code kept (B-13).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from bankgate.connectors.base import ErrorClass
from bankgate.domain import Outcome

__all__ = ["DIALECTS", "DUPLICATE_REASON", "PROTOCOL_ERRORS", "UNRECOGNIZED_REASON", "BankError",
           "Dialect"]

R, T, U = ErrorClass.RETRYABLE, ErrorClass.TERMINAL, ErrorClass.UNKNOWN

#: ISO 20022 reason of a line whose instruction id the bank already holds (B-05).
DUPLICATE_REASON: Final = "DU05"
#: ISO 20022 "narrative" reason: the bank's code is not in our table; read its text.
UNRECOGNIZED_REASON: Final = "NARR"


@dataclass(frozen=True, slots=True, kw_only=True)
class BankError:
    """What one bank error code means: may we retry (submit / read), ISO reason, short text."""

    kind: ErrorClass  # after a submit
    read_kind: ErrorClass  # after a read, which has no effect at the bank
    reason_code: str
    text: str

    def kind_for(self, *, safe: bool) -> ErrorClass:
        """The class for a read (`safe`) or for a submit."""
        return self.read_kind if safe else self.kind


@dataclass(frozen=True, slots=True)
class Dialect:
    """One bank's code tables."""

    name: str
    statuses: Mapping[str, Outcome]
    errors: Mapping[str, BankError]
    duplicate_code: str  # the error code for an instruction id or batch id the bank holds

    def outcome(self, code: str) -> Outcome:
        """The outcome a status code means; UNRECOGNIZED when the table lacks it."""
        return self.statuses.get(code, Outcome.UNRECOGNIZED)

    def error(self, code: str) -> BankError:
        """What an error code means; a code not in the table is of unknown effect."""
        known = self.errors.get(code) or PROTOCOL_ERRORS.get(code)
        if known is not None:
            return known
        return BankError(kind=U, read_kind=U, reason_code=UNRECOGNIZED_REASON,
                         text=f"unrecognised bank code {code!r}")

    def is_duplicate(self, code: str | None) -> bool:
        """True for the code saying "I already hold this instruction id"."""
        return code == self.duplicate_code


#: Meaning → (class after submit, class after read, ISO 20022 reason, text). The order is
#: the protocol's Dialects table; the columns below follow it.
_MEANINGS: Final = (
    ("insufficient_funds", T, T, "AM04", "insufficient funds"),
    ("unknown_account", T, T, "AC01", "payee account unknown"),
    ("closed_account", T, T, "AC04", "account closed"),
    ("name_mismatch", T, T, "BE01", "payee name does not match the account holder"),
    ("duplicate_instruction", U, T, DUPLICATE_REASON,
     "instruction or batch id already held by the bank"),
    ("invalid_request", T, T, "FF01", "request refused as invalid"),
    ("unknown_debtor", T, T, "AC02", "debtor account unknown"),
    ("internal", U, R, "MS03", "bank internal error; a submit may have been booked"),
    ("busy", R, R, "TM01", "bank busy; nothing was done"),
    ("rate_limited", R, R, "RL01", "rate limited; nothing was done"),
    ("confirmation_refused", T, T, "CUST",
     "refused at the second confirmation in the bank's portal (网银二次确认)"),
)
_OUTCOMES: Final = (Outcome.RECEIVED, Outcome.AWAITING_CONFIRMATION, Outcome.ACCEPTED,
                    Outcome.SETTLED, Outcome.REJECTED, Outcome.RETURNED, Outcome.NOT_FOUND)


#: Codes every bank uses alike: the message-security refusals (HTTP 401) of
#: docs/hostapi-protocol.md, Signatures. The bank checks the signature before it does
#: anything, so nothing was done: retryable (a fresh signature, a corrected clock), never a
#: rejection of the orders.
PROTOCOL_ERRORS: Final[Mapping[str, BankError]] = MappingProxyType({
    code: BankError(kind=R, read_kind=R, reason_code="NARR", text=text) for code, text in (
        ("AUTH_SIGNATURE_MISSING", "the bank found no signature on our request"),
        ("AUTH_SIGNATURE_MALFORMED", "the bank could not read our request's signature"),
        ("AUTH_UNKNOWN_KEY", "our signing key is not registered with the bank"),
        ("AUTH_WRONG_ALGORITHM", "we signed with an algorithm the bank did not agree to"),
        ("AUTH_CLOCK_SKEW", "clock skew: our timestamp is outside the bank's window"),
        ("AUTH_DIGEST_MISMATCH", "the body digest did not match what the bank received"),
        ("AUTH_SIGNATURE_INVALID", "the bank found our signature invalid"),
        ("AUTH_NONCE_REPLAYED", "the bank saw our nonce before (a replay)"))})


def _dialect(name: str, statuses: tuple[str, ...], errors: tuple[str, ...]) -> Dialect:
    table = {code: BankError(kind=kind, read_kind=read_kind, reason_code=reason, text=text)
             for code, (_, kind, read_kind, reason, text) in zip(errors, _MEANINGS, strict=True)}
    duplicate = errors[[m[0] for m in _MEANINGS].index("duplicate_instruction")]
    return Dialect(name, MappingProxyType(dict(zip(statuses, _OUTCOMES, strict=True))),
                   MappingProxyType(table), duplicate_code=duplicate)


DIALECTS: Final[Mapping[str, Dialect]] = MappingProxyType({
    "icbc": _dialect("icbc", ("10", "15", "20", "30", "40", "50", "99"),
                     ("E2001", "E2002", "E2003", "E2004", "E1009", "E1000", "E2010", "E9999",
                      "E9001", "E9002", "E3001")),
    "cmb": _dialect("cmb", ("BNK", "AUT", "ACC", "FIN-S", "FIN-F", "FIN-B", "NOT_FOUND"),
                    ("ACC_BALANCE_LACK", "ACC_NOT_EXIST", "ACC_CLOSED", "ACC_NAME_ERR",
                     "DUP_REQ", "PARAM_ERR", "PAYER_NOT_EXIST", "SYS_ERR", "SYS_BUSY",
                     "FREQ_LIMIT", "AUT_REFUSED")),
    "boc": _dialect("boc", ("ACTC", "PDNG", "ACCP", "ACSC", "RJCT", "RTND", "NOTF"),
                    ("AM04", "AC01", "AC04", "BE01", "DU05", "FF01", "AC02", "MS03", "TM01",
                     "RL01", "CUST")),
})
