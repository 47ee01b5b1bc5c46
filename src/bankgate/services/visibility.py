"""Who may see which amounts: payroll amounts only for the payroll role (issue 7).

Every view of payment orders and batches (`services/queries`) passes through `shown` and
`shown_batch`, given the caller's permissions; a payroll order (`FlowType.PAYROLL`) keeps its
amount only for a caller holding `PAYROLL_AMOUNTS`, and a batch holding any payroll order
keeps its total only for that caller. The amount is not moved, only not shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bankgate.domain import FlowType, PaymentOrder

__all__ = ["PAYROLL_AMOUNTS", "ShownOrder", "sees_payroll", "shown", "shown_batch"]

#: The permission that shows payroll amounts; only the payroll role holds it.
PAYROLL_AMOUNTS: Final = "payroll:amounts"


@dataclass(frozen=True, slots=True)
class ShownOrder:
    """An order as one caller may see it: `amount_hidden` means do not show its amount."""

    order: PaymentOrder
    amount_hidden: bool


def sees_payroll(permissions: Collection[str]) -> bool:
    """Whether a caller with these permissions may see payroll amounts."""
    return PAYROLL_AMOUNTS in permissions


def shown(order: PaymentOrder, permissions: Collection[str]) -> ShownOrder:
    """`order` for a caller with `permissions`."""
    hidden = order.flow is FlowType.PAYROLL and not sees_payroll(permissions)
    return ShownOrder(order, amount_hidden=hidden)


def shown_batch(summary: Mapping[str, Any], has_payroll: bool,
                permissions: Collection[str]) -> dict[str, Any]:
    """A batch summary for a caller: `total_minor` None and `total_hidden` when not theirs."""
    hidden = has_payroll and not sees_payroll(permissions)
    return {**summary, "total_minor": None if hidden else summary["total_minor"],
            "total_hidden": hidden}
