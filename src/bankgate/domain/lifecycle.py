"""The payment order lifecycle (DESIGN.md): statuses, allowed transitions, bank-driven paths.

    draft → pending_approval → approved → released → submitted → accepted → settled
    with rejected, returned, cancelled, awaiting_bank_confirmation and unknown.

`NEXT` is the whole state machine; `require_transition` is its only gate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from bankgate.domain.errors import IllegalTransition

__all__ = [
    "BANK_DRIVEN",
    "NEXT",
    "TERMINAL",
    "Status",
    "bank_path",
    "is_terminal",
    "require_transition",
]


class Status(StrEnum):
    """Where a payment order is in its life."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    RELEASED = "released"
    SUBMITTED = "submitted"
    AWAITING_BANK_CONFIRMATION = "awaiting_bank_confirmation"
    UNKNOWN = "unknown"
    ACCEPTED = "accepted"
    SETTLED = "settled"
    REJECTED = "rejected"
    RETURNED = "returned"
    CANCELLED = "cancelled"


S = Status
NEXT: Final[Mapping[Status, frozenset[Status]]] = {
    S.DRAFT: frozenset({S.PENDING_APPROVAL, S.CANCELLED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.CANCELLED}),
    # an approval voided by an edit sends the order back for approval
    S.APPROVED: frozenset({S.RELEASED, S.PENDING_APPROVAL, S.CANCELLED}),
    S.RELEASED: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.UNKNOWN, S.AWAITING_BANK_CONFIRMATION}),
    S.AWAITING_BANK_CONFIRMATION: frozenset({S.ACCEPTED, S.REJECTED, S.UNKNOWN}),
    # resolved by a status query; back to submitted only when the bank says it never saw the
    # order and the resend carries the same instruction id (the bank is idempotent on it)
    S.UNKNOWN: frozenset({S.ACCEPTED, S.REJECTED, S.SETTLED, S.AWAITING_BANK_CONFIRMATION,
                          S.SUBMITTED}),
    S.ACCEPTED: frozenset({S.SETTLED, S.REJECTED, S.RETURNED}),
    S.SETTLED: frozenset({S.RETURNED}),
    S.REJECTED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Statuses after which nothing more is expected (settled may still be returned, but the
#: payment has reached the bank's final word for INV-2).
TERMINAL: Final = frozenset({S.SETTLED, S.REJECTED, S.RETURNED, S.CANCELLED})

#: Statuses a bank's answer can move an order into.
BANK_DRIVEN: Final = frozenset({S.AWAITING_BANK_CONFIRMATION, S.ACCEPTED, S.SETTLED,
                                S.REJECTED, S.RETURNED})


def require_transition(from_: Status, to: Status) -> None:
    """Raise IllegalTransition unless the lifecycle allows `from_` → `to`."""
    if to not in NEXT[from_]:
        raise IllegalTransition(from_, to)


def is_terminal(status: Status) -> bool:
    """True for settled, rejected, returned and cancelled."""
    return status in TERMINAL


def bank_path(current: Status, reported: Status) -> tuple[Status, ...] | None:
    """The statuses to step through so that an order in `current` reflects `reported`.

    A bank may report `settled` for an order we still have as `submitted`: the path is
    (accepted, settled), each step a legal transition. `()` means nothing to do (already
    there); `None` means the report is behind or contradicts the lifecycle (a late `accepted`
    after `settled`) and must be ignored, never forced.
    """
    if current == reported:
        return ()
    if reported not in BANK_DRIVEN:
        return None
    seen = {current}
    queue: deque[tuple[Status, tuple[Status, ...]]] = deque([(current, ())])
    while queue:
        status, path = queue.popleft()
        for nxt in sorted(NEXT[status]):
            if nxt in seen or nxt not in BANK_DRIVEN:
                continue
            if nxt == reported:
                return (*path, nxt)
            seen.add(nxt)
            queue.append((nxt, (*path, nxt)))
    return None
