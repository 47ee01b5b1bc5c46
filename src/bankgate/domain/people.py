"""People and systems that act on the gateway: users with roles, ERP clients with scopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

__all__ = ["SCOPES", "ApiClient", "Credential", "CredentialKind", "Role", "User"]


class Role(StrEnum):
    """What a person may do (a user holds one or more roles)."""

    MAKER = "maker"  # prepares payment orders (制单)
    APPROVER = "approver"  # approves them (审批)
    RELEASER = "releaser"  # releases approved orders to the bank (复核/放行)
    TREASURER_ADMIN = "treasurer_admin"  # users, policy (资金主管/管理员)
    AUDITOR = "auditor"  # reads everything, changes nothing (审计)
    PAYROLL = "payroll"  # prepares payroll orders only (代发工资)


#: What an ERP client's API key may be allowed; approving and releasing are never among them.
SCOPES: Final = frozenset({"payments:create", "payments:read", "payments:cancel",
                           "accounts:read", "balances:read", "batches:read",
                           "claims:create", "claims:read", "payroll:create", "receipts:read",
                           "recon:read", "alerts:read"})


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A person with a login; `own_accounts` are keyed tags (or legacy fingerprints), never
    account numbers."""

    id: str
    username: str
    display_name: str
    roles: frozenset[Role]
    own_accounts: frozenset[str]
    active: bool
    version: int
    created_at: datetime

    @property
    def actor(self) -> str:
        """How the audit log and the order's maker name this user."""
        return f"user:{self.username}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiClient:
    """An ERP or finance system calling the API with a key limited to `scopes`."""

    id: str
    name: str
    scopes: frozenset[str]
    active: bool
    created_at: datetime

    @property
    def actor(self) -> str:
        """How the audit log names this client."""
        return f"client:{self.name}"


class CredentialKind(StrEnum):
    """A second factor or a signing key registered for a user."""

    TOTP = "totp"
    SIGNING_KEY = "signing_key"


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """A user's TOTP factor (secret sealed) or signing key (public key PEM)."""

    id: str
    user_id: str
    kind: CredentialKind
    secret: bytes | None  # sealed; opened only to verify a code
    public_key: str | None
    algorithm: str | None
    created_at: datetime
    confirmed_at: datetime | None
    revoked_at: datetime | None
    failures: int
    locked_at: datetime | None
    last_step: int | None
    version: int

    @property
    def usable(self) -> bool:
        """Confirmed, not revoked, not locked."""
        return (self.confirmed_at is not None and self.revoked_at is None
                and self.locked_at is None)
