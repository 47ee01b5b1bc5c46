"""What the flows' routes need: the signed-in user (if any) and JSON-ready bodies."""

from __future__ import annotations

from fastapi import Request

from bankgate.api.deps import gateway
from bankgate.domain.people import User
from bankgate.services.flows_queries import require_user, user_of

__all__ = ["signed_in", "viewer"]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def viewer(request: Request) -> User | None:
    """The user behind `Authorization: Bearer <session token>`, or None without one."""
    app = gateway(request)
    return user_of(uow=app.uow, token=_token(request), now=app.now)


def signed_in(request: Request) -> User:
    """The signed-in user; 401-class AuthenticationFailed without a valid token."""
    app = gateway(request)
    return require_user(uow=app.uow, token=_token(request), now=app.now)
