"""Audit records as data; chaining and verification live in `audit/` (issue 5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["AuditRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """Who did what to which subject, when, and why (one per transition or refusal)."""

    at: datetime
    actor: str  # "user:alice", "system:worker", "bank:icbc", "api:erp"
    action: str  # "order.created", "order.transition", "batch.formed", "request.refused"
    subject_kind: str  # "order", "batch", "request"
    subject_id: str
    from_status: str | None = None
    to_status: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
