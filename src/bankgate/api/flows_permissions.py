"""Who may call the flows' routes (issue 7): their entries of api/auth.py's tables.

Permissions by role: makers (出纳) submit claims, run the claim cut-off, make transfers and
fetch receipts; approvers and treasury admins decide claims and proposed transfers; the
payroll role imports payroll and is the only one that sees its amounts (`payroll:amounts`,
applied to every order and batch view by services/visibility; checked again in
services/payroll); every reading role reads claims, transfers and receipts. ERP keys may
get the scopes `claims:create`, `claims:read`, `payroll:create`, `receipts:read`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bankgate.domain.people import Role

__all__ = ["FLOW_ROUTES", "with_flow_permissions"]

_READ = frozenset({"claims:read", "transfers:read", "receipts:read", "payroll:read"})
_FLOWS: Final[Mapping[Role, frozenset[str]]] = {
    Role.MAKER: _READ | {"claims:create", "claims:pay", "transfers:create", "receipts:fetch",
                         "employees:write"},
    Role.PAYROLL: _READ | {"payroll:create", "employees:write", "payroll:amounts"},
    Role.APPROVER: _READ | {"claims:approve", "transfers:approve"},
    Role.RELEASER: _READ,
    Role.TREASURER_ADMIN: _READ | {"claims:approve", "transfers:approve", "transfers:create",
                                   "claims:pay", "receipts:fetch", "employees:write"},
    Role.AUDITOR: _READ,
}

FLOW_ROUTES: Final[Mapping[tuple[str, str], str]] = {
    ("POST", "/api/v1/employees"): "employees:write",
    ("POST", "/api/v1/claims"): "claims:create",
    ("GET", "/api/v1/claims"): "claims:read",
    ("GET", "/api/v1/claims/{claim_id}"): "claims:read",
    ("POST", "/api/v1/claims/{claim_id}/approve"): "claims:approve",
    ("POST", "/api/v1/claims/pay"): "claims:pay",
    ("POST", "/api/v1/payroll"): "payroll:create",
    ("GET", "/api/v1/payroll/{run_id}"): "payroll:read",
    ("POST", "/api/v1/payroll/{run_id}/lines/{employee_id}/reissue"): "payroll:create",
    ("POST", "/api/v1/transfers"): "transfers:create",
    ("GET", "/api/v1/transfers"): "transfers:read",
    ("POST", "/api/v1/transfers/{transfer_id}/{decision}"): "transfers:approve",
    ("POST", "/api/v1/sweeps"): "transfers:create",
    ("GET", "/api/v1/payments/{order_id}/route"): "payments:read",
    ("POST", "/api/v1/receipts/fetch"): "receipts:fetch",
    ("GET", "/api/v1/receipts"): "receipts:read",
    ("GET", "/api/v1/receipts/archive"): "receipts:read",
    ("GET", "/api/v1/receipts/missing"): "receipts:read",
    ("GET", "/api/v1/receipts/{receipt_id}.pdf"): "receipts:read",
}


def with_flow_permissions(table: Mapping[Role, frozenset[str]]) -> dict[Role, frozenset[str]]:
    """`table` with each role's flow permissions added."""
    return {role: found | _FLOWS.get(role, frozenset()) for role, found in table.items()}
