"""What a front-end bank table holds (one instance per bank in `banks/<bank>.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bankgate.connectors.base import ErrorClass
from bankgate.domain import Outcome

__all__ = ["Call", "Calls", "FrontendBank", "LineError", "RetCode"]


@dataclass(frozen=True, slots=True)
class Call:
    """One transaction: its code (INFO/FUNNAM), request record and answer record tags."""

    function: str
    request: str
    answer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Calls:
    """The transactions the channel uses."""

    balance: Call
    submit: Call
    submit_header: str  # the record before the orders (business code and mode)
    status: Call
    history: Call
    day_balance: Call


@dataclass(frozen=True, slots=True)
class RetCode:
    """What a package-level return code (INFO/RETCOD) means, after a submit and a read."""

    kind: ErrorClass
    read_kind: ErrorClass
    text: str


@dataclass(frozen=True, slots=True)
class LineError:
    """What an order line's error code means: its ISO 20022 reason and a short text."""

    reason_code: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontendBank:
    """One bank's direct-connect dialect."""

    name: str
    calls: Calls
    fields: Mapping[str, str]  # meaning → field name
    currencies: Mapping[str, str]  # bank currency code → ISO 4217
    statuses: Mapping[tuple[str, str], Outcome]  # (REQSTS, RTNFLG) → outcome
    ok_code: str  # the order line's "no error" code
    line_errors: Mapping[str, LineError]
    duplicate_code: str
    retcodes: Mapping[str, RetCode]
    bank_names: Mapping[str, str]  # our bank id → the bank name the payee field wants
    business: Mapping[str, str]  # the submit header's fields
    max_status_ids: int

    def currency_code(self, iso: str) -> str | None:
        """The bank's code for an ISO currency, None when it has none."""
        for code, known in self.currencies.items():
            if known == iso:
                return code
        return None

    def outcome(self, status: str, flag: str) -> Outcome:
        """The outcome of a (status, result flag) pair; UNRECOGNIZED when not in the table."""
        return self.statuses.get((status, flag), Outcome.UNRECOGNIZED)
