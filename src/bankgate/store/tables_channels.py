"""Tables of the bank channels' security: nonces already seen on signed bank messages.

A signed callback's nonce is remembered until well past the timestamp window, so a captured
callback resent later is refused even after the process restarts (A-02).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from bankgate.store.tables import UtcDateTime, metadata

__all__ = ["seen_nonces"]

seen_nonces = Table(
    "seen_nonces", metadata,
    Column("scope", String(64), primary_key=True),  # "callback:icbc": whose nonces these are
    Column("nonce", String(64), primary_key=True),
    Column("key_id", String(128), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "expires_at"),
)
