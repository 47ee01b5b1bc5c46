"""Who is calling, and may they: API keys for ERP systems, session tokens for people.

Every route needs a permission from `ROUTES`; a route missing from the table is refused
(fail closed), so a new route cannot be reached until someone decides who may call it.
People get permissions from their roles (`ROLE_PERMISSIONS`), ERP clients from their key's
scopes — and no scope approves, releases or administers (A-08). Bank callbacks are not ours
to authenticate with keys: they carry the bank's signature, checked by the channel. Every
refusal is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from bankgate.api.deps import gateway
from bankgate.api.flows_permissions import FLOW_ROUTES, with_flow_permissions
from bankgate.domain.people import ApiClient, Role, User
from bankgate.errors import AuthenticationFailed, PermissionDenied
from bankgate.services.users import audit_refusal, authenticate_key, authenticate_token

__all__ = ["PUBLIC", "ROLE_PERMISSIONS", "ROUTES", "Principal", "authenticate", "principal"]

_READ = frozenset({"payments:read", "accounts:read", "balances:read", "batches:read",
                   "policy:read", "recon:read", "alerts:read"})
_MAKE = frozenset({"payments:create", "payments:cancel", "payments:edit"})
# Reconciliation (对账): finance staff run the matcher and clear the manual queue.
_RECON = frozenset({"recon:run", "recon:decide"})
ROLE_PERMISSIONS: Final[Mapping[Role, frozenset[str]]] = with_flow_permissions({  # issue 7
    Role.MAKER: _READ | _MAKE | _RECON,
    Role.PAYROLL: _READ,  # payroll files only (flows_permissions.py), not other orders
    Role.APPROVER: _READ | {"payments:approve"},
    Role.RELEASER: _READ | {"payments:release"},
    Role.TREASURER_ADMIN: _READ | _RECON | {"users:admin", "policy:admin", "alerts:ack"},
    Role.AUDITOR: _READ,
})

#: (method, route path) → the permission it needs.
ROUTES: Final[Mapping[tuple[str, str], str]] = {**FLOW_ROUTES,  # issue 7
    ("GET", "/api/v1/recon/summary"): "recon:read",
    ("GET", "/api/v1/recon/queue"): "recon:read",
    ("POST", "/api/v1/recon/runs"): "recon:run",
    ("POST", "/api/v1/recon/matches"): "recon:decide",
    ("POST", "/api/v1/recon/matches/{match_id}/confirm"): "recon:decide",
    ("POST", "/api/v1/recon/matches/{match_id}/unmatch"): "recon:decide",
    ("GET", "/api/v1/alerts"): "alerts:read",  # issue 5: alerts
    ("POST", "/api/v1/alerts/{alert_id}/ack"): "alerts:ack",
    ("GET", "/api/v1/accounts"): "accounts:read",
    ("GET", "/api/v1/balances"): "balances:read",
    ("GET", "/api/v1/batches"): "batches:read",
    ("GET", "/api/v1/batches/{batch_id}"): "batches:read",
    ("GET", "/api/v1/jobs/summary"): "batches:read",
    ("POST", "/api/v1/payments"): "payments:create",
    ("GET", "/api/v1/payments"): "payments:read",
    ("GET", "/api/v1/payments/{order_id}"): "payments:read",
    ("POST", "/api/v1/payments/{order_id}/cancel"): "payments:cancel",
    ("PATCH", "/api/v1/payments/{order_id}"): "payments:edit",
    ("GET", "/api/v1/payments/{order_id}/controls"): "payments:read",
    ("POST", "/api/v1/payments/{order_id}/approve"): "payments:approve",
    ("POST", "/api/v1/approvals"): "payments:approve",
    ("POST", "/api/v1/payments/{order_id}/reject"): "payments:approve",
    ("POST", "/api/v1/payments/{order_id}/release"): "payments:release",
    ("POST", "/api/v1/releases"): "payments:release",
    ("GET", "/api/v1/policy"): "policy:read",
    ("POST", "/api/v1/policy"): "policy:admin",
    ("POST", "/api/v1/policy/{version}/activate"): "policy:admin",
    ("POST", "/api/v1/users"): "users:admin",
    ("GET", "/api/v1/users"): "users:admin",
    ("PATCH", "/api/v1/users/{username}"): "users:admin",
    ("POST", "/api/v1/me/totp"): "self",
    ("POST", "/api/v1/me/totp/{credential_id}/confirm"): "self",
}
#: Routes anyone may call: liveness, logging in, and bank callbacks (signed by the bank).
PUBLIC: Final = frozenset(
    {("GET", "/healthz"), ("POST", "/api/v1/sessions"), ("POST", "/api/v1/callbacks/{bank}")}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a person or an ERP client, and what they may do."""

    actor: str
    permissions: frozenset[str]
    user: User | None = None
    client: ApiClient | None = None


def principal(request: Request) -> Principal:
    """The caller `authenticate` established for this request."""
    found: Principal = request.state.principal
    return found


async def authenticate(request: Request) -> None:
    """FastAPI dependency on every router: establish the caller and check the route."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    key = (request.method, template)
    if key in PUBLIC:
        return
    app = gateway(request)
    try:
        who = await run_in_threadpool(_identify, request)
        needed = ROUTES.get(key)
        if needed is None:
            raise PermissionDenied(f"{request.method} {template} has no declared permission")
        if needed != "self" or who.user is None:
            if needed not in who.permissions:
                raise PermissionDenied(
                    f"{who.actor} may not {request.method} {template} (needs {needed})"
                )
    except (AuthenticationFailed, PermissionDenied) as exc:
        await run_in_threadpool(
            audit_refusal,
            uow=app.uow,
            now=app.now,
            actor=_claimed(request),
            what=f"{request.method} {template}",
            reason=str(exc),
        )
        raise
    request.state.principal = who


def _identify(request: Request) -> Principal:
    app = gateway(request)
    api_key = request.headers.get("x-api-key")
    bearer = request.headers.get("authorization", "")
    if api_key:
        client = authenticate_key(uow=app.uow, key=api_key)
        return Principal(client.actor, frozenset(client.scopes), client=client)
    if bearer.lower().startswith("bearer "):
        user = authenticate_token(uow=app.uow, token=bearer[7:].strip(), now=app.now)
        allowed = frozenset().union(*(ROLE_PERMISSIONS[r] for r in user.roles))
        return Principal(user.actor, allowed, user=user)
    raise AuthenticationFailed(
        "authenticate with an X-API-Key header (ERP systems) or "
        "Authorization: Bearer <session token> (people)"
    )


def _claimed(request: Request) -> str:
    """Who the caller claimed to be, for the audit record, without any secret."""
    api_key = request.headers.get("x-api-key", "")
    if api_key:
        return f"key:{api_key.removeprefix('bgk_').partition('.')[0][:20]}"
    bearer = request.headers.get("authorization", "")
    if bearer:
        return f"session:{bearer[7:].removeprefix('bgs_').partition('.')[0][:20]}"
    client = request.client
    return f"anonymous:{client.host if client else '?'}"
