"""What the flows' routes need from the caller that api/auth.py established."""

from __future__ import annotations

from fastapi import Request

from bankgate.api.auth import principal
from bankgate.domain.people import User
from bankgate.errors import PermissionDenied

__all__ = ["actor", "roles", "signed_in"]


def actor(request: Request) -> str:
    """Who acts: `user:<name>` or `client:<erp>`."""
    return principal(request).actor


def roles(request: Request) -> frozenset[str]:
    """The calling person's roles (an ERP client has none)."""
    user = principal(request).user
    return frozenset(user.roles) if user else frozenset()


def signed_in(request: Request) -> User:
    """The calling person; an ERP key may not take this step."""
    user = principal(request).user
    if user is None:
        raise PermissionDenied(f"{principal(request).actor}: this step is for a signed-in "
                               "person, not an API key")
    return user
