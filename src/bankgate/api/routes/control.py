"""People and permissions over HTTP: log in, approve, reject, release, edit, policy, users."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bankgate.api.auth import principal
from bankgate.api.body import read_json, validate
from bankgate.api.deps import gateway, today
from bankgate.api.errors import ApiRefusal
from bankgate.api.schemas import order_out
from bankgate.domain.people import User
from bankgate.errors import PermissionDenied
from bankgate.services import approvals, edits, policies, queries, users
from bankgate.services.policy_views import decision_view, policy_view

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["control"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginIn(_Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StepUpIn(_Strict):
    code: str | None = Field(default=None, max_length=10)
    signature: str | None = Field(default=None, max_length=2048)  # base64, token signature


class ManyIn(_Strict):
    order_ids: list[str] = Field(min_length=1, max_length=500)
    code: str | None = Field(default=None, max_length=10)


class RejectIn(_Strict):
    reason: str = Field(min_length=1, max_length=200)


class EditIn(_Strict):
    payee_name: str | None = None
    payee_account: str | None = None
    payee_bank: str | None = None
    amount: str | None = None
    execution_date: str | None = None
    remittance: str | None = None


class UserIn(_Strict):
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=140)
    roles: list[str] = Field(min_length=1)
    password: str = Field(min_length=1, max_length=256)
    own_accounts: list[str] = Field(default_factory=list)


class UserChangeIn(_Strict):
    roles: list[str] | None = None
    active: bool | None = None


class PolicyIn(_Strict):
    content: str = Field(min_length=1, max_length=200_000)


def _person(request: Request) -> User:
    user = principal(request).user
    if user is None:
        raise PermissionDenied("only a person (session token) may do this, not an API key")
    return user


@router.post("/sessions", summary="Log in: a session token for a person")
async def create_session(request: Request) -> dict[str, Any]:
    """Password login, rate-limited and locked after repeated failures (A-11)."""
    body = validate(LoginIn, await read_json(request))
    assert isinstance(body, LoginIn)
    app = gateway(request)
    address = request.client.host if request.client else "unknown"
    user, token = await run_in_threadpool(
        users.login,
        uow=app.uow,
        username=body.username,
        password=body.password,
        address=address,
        now=app.now,
    )
    return {"token": token, "username": user.username, "roles": sorted(user.roles)}


@router.post("/payments/{order_id}/approve", summary="Approve one order (TOTP, signature)")
async def approve_one(request: Request, order_id: str) -> dict[str, Any]:
    """Approve under the order's tier; a code and a token signature where it asks for them."""
    body = validate(StepUpIn, await read_json(request))
    assert isinstance(body, StepUpIn)
    app = gateway(request)
    signatures = {order_id: _b64(body.signature)} if body.signature else {}
    [order] = await run_in_threadpool(
        approvals.approve,
        uow=app.uow,
        sealer=app.sealer,
        order_ids=[order_id],
        user=_person(request),
        code=body.code,
        now=app.now,
        signatures=signatures,
    )
    return order_out(order)


@router.post("/approvals", summary="Approve several orders with one TOTP code")
async def approve_many(request: Request) -> dict[str, Any]:
    """One step-up bound to the hash of exactly these orders."""
    body = validate(ManyIn, await read_json(request))
    assert isinstance(body, ManyIn)
    app = gateway(request)
    done = await run_in_threadpool(
        approvals.approve,
        uow=app.uow,
        sealer=app.sealer,
        order_ids=body.order_ids,
        user=_person(request),
        code=body.code,
        now=app.now,
    )
    return {"payments": [order_out(o) for o in done]}


@router.post("/payments/{order_id}/reject", summary="Refuse an order awaiting approval")
async def reject_one(request: Request, order_id: str) -> dict[str, Any]:
    """Cancel with a reason; approvals given so far are void."""
    body = validate(RejectIn, await read_json(request))
    assert isinstance(body, RejectIn)
    app = gateway(request)
    return order_out(
        await run_in_threadpool(
            approvals.reject,
            uow=app.uow,
            order_id=order_id,
            user=_person(request),
            reason=body.reason,
            now=app.now,
        )
    )


@router.post("/payments/{order_id}/release", summary="Release an approved order (TOTP)")
async def release_one(request: Request, order_id: str) -> dict[str, Any]:
    """Release for dispatch, if every required approval matches the order as it is."""
    body = validate(StepUpIn, await read_json(request))
    assert isinstance(body, StepUpIn)
    app = gateway(request)
    [order] = await run_in_threadpool(
        approvals.release,
        uow=app.uow,
        sealer=app.sealer,
        order_ids=[order_id],
        user=_person(request),
        code=body.code,
        now=app.now,
    )
    return order_out(order)


@router.post("/releases", summary="Release several approved orders with one TOTP code")
async def release_many(request: Request) -> dict[str, Any]:
    """One step-up bound to the hash of exactly these orders."""
    body = validate(ManyIn, await read_json(request))
    assert isinstance(body, ManyIn)
    app = gateway(request)
    done = await run_in_threadpool(approvals.release, uow=app.uow, sealer=app.sealer,
                                   order_ids=body.order_ids, user=_person(request),
                                   code=body.code, now=app.now)
    return {"payments": [order_out(o) for o in done]}


@router.patch("/payments/{order_id}", summary="Edit an order not yet released")
async def edit_one(request: Request, order_id: str) -> dict[str, Any]:
    """Change payee, amount, date or remittance; approvals void (A-06). Never the status."""
    document = await read_json(request)
    if isinstance(document, dict) and "status" in document:
        app = gateway(request)
        await run_in_threadpool(users.audit_refusal, uow=app.uow, now=app.now,
                                actor=principal(request).actor,
                                what=f"PATCH payment {order_id}", reason="status set by PATCH")
        raise ApiRefusal(
            403,
            "permission_denied",
            "status cannot be set; an order moves only by approve, release, reject or cancel",
            "/status",
        )
    body = validate(EditIn, document)
    app = gateway(request)
    changes = {k: v for k, v in body.model_dump().items() if v is not None}
    return order_out(
        await run_in_threadpool(
            edits.edit_order,
            uow=app.uow,
            order_id=order_id,
            changes=changes,
            actor=principal(request).actor,
            now=app.now,
            today=today(app),
        )
    )


@router.get("/payments/{order_id}/controls", summary="Which rule applies and who approved")
def controls(request: Request, order_id: str) -> dict[str, Any]:
    """The decision stored at submission, the policy in force now, and the approvals."""
    app = gateway(request)
    queries.order(uow=app.uow, order_id=order_id, permissions=frozenset())  # 404 first
    return decision_view(uow=app.uow, order_id=order_id, now=app.now)


@router.get("/policy", summary="The policy in force")
def get_policy(request: Request) -> dict[str, Any]:
    """Name, version, hash and the file itself."""
    return policy_view(uow=gateway(request).uow)


@router.post("/policy", status_code=201, summary="Propose a new policy (treasurer_admin)")
async def propose(request: Request) -> dict[str, Any]:
    """Validated and stored as proposed; another treasurer_admin activates it (A-08)."""
    body = validate(PolicyIn, await read_json(request))
    assert isinstance(body, PolicyIn)
    app = gateway(request)
    version = await run_in_threadpool(
        policies.propose_policy,
        uow=app.uow,
        content=body.content.encode(),
        origin="request",
        by=_person(request),
        now=app.now,
    )
    return {"version": version, "state": "proposed"}


@router.post("/policy/{version}/activate", summary="Put a proposed policy in force")
async def activate(request: Request, version: int) -> dict[str, Any]:
    """By a treasurer_admin other than the proposer."""
    app = gateway(request)
    policy = await run_in_threadpool(
        policies.activate_policy, uow=app.uow, version=version, by=_person(request), now=app.now
    )
    return {"version": policy.version, "name": policy.name, "hash": policy.hash}


@router.post("/users", status_code=201, summary="Add a user (treasurer_admin)")
async def add_user(request: Request) -> dict[str, Any]:
    """A person with roles; the password is hashed with argon2."""
    body = validate(UserIn, await read_json(request))
    assert isinstance(body, UserIn)
    app = gateway(request)
    user = await run_in_threadpool(
        users.create_user,
        uow=app.uow,
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        password=body.password,
        own_accounts=body.own_accounts,
        actor=principal(request).actor,
        now=app.now,
    )
    return {"id": user.id, "username": user.username, "roles": sorted(user.roles)}


@router.get("/users", summary="Every user with roles (treasurer_admin)")
def get_users(request: Request) -> dict[str, Any]:
    """Usernames, names, roles and whether they are active; never a secret."""
    return {"users": [{"username": u.username, "display_name": u.display_name,
                       "roles": sorted(u.roles), "active": u.active}
                      for u in users.list_users(uow=gateway(request).uow)]}


@router.patch("/users/{username}", summary="Change a user's roles or disable them")
async def change_user(request: Request, username: str) -> dict[str, Any]:
    """Only roles and active may change (anything else is refused: no mass assignment)."""
    body = validate(UserChangeIn, await read_json(request))
    assert isinstance(body, UserChangeIn)
    app = gateway(request)
    who = principal(request)
    if who.user is not None and who.user.username == username:
        raise PermissionDenied(f"{who.actor} may not change their own roles")
    current = await run_in_threadpool(users.user_named, uow=app.uow, username=username)
    user = await run_in_threadpool(
        users.set_roles,
        uow=app.uow,
        username=username,
        roles=body.roles if body.roles is not None else current.roles,
        active=body.active,
        actor=who.actor,
        now=app.now,
    )
    return {"username": user.username, "roles": sorted(user.roles), "active": user.active}


@router.post("/me/totp", status_code=201, summary="Enrol a TOTP factor (shown once)")
def enrol(request: Request) -> dict[str, Any]:
    """A new factor; confirm it with its first code. Confirming revokes the previous one."""
    app = gateway(request)
    credential, uri = users.enrol_totp(
        uow=app.uow, sealer=app.sealer, user_id=_person(request).id, now=app.now
    )
    return {"credential_id": credential, "provisioning_uri": uri}


@router.post("/me/totp/{credential_id}/confirm", summary="Confirm a TOTP factor")
async def confirm(request: Request, credential_id: str) -> dict[str, Any]:
    """The first code from the authenticator app."""
    body = validate(StepUpIn, await read_json(request))
    assert isinstance(body, StepUpIn)
    app = gateway(request)
    await run_in_threadpool(
        users.confirm_totp,
        uow=app.uow,
        sealer=app.sealer,
        user_id=_person(request).id,
        credential_id=credential_id,
        code=body.code or "",
        now=app.now,
    )
    return {"credential_id": credential_id, "confirmed": True}


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiRefusal(422, "invalid_input", "signature: not base64", "/signature") from exc
