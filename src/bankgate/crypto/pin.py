"""The gateway's own PIN-failure lockout for signing tokens (A-12).

SoftHSM never locks a PIN, and a real U盾 locks after a count the gateway cannot read; so
bankgate counts wrong PINs itself, per token, in a store that survives restarts
(`store.security.SqlPinCounterStore`), and refuses to try a locked token at all. Only a wrong
PIN counts: a token that is absent or a process killed mid-session leaves the count as it was
(K-11). A correct PIN resets the count; a locked token stays locked until `unlock`. Two
logins racing with a wrong PIN at the last attempt may both reach the token (one extra try
per concurrent caller); the count still ends at or above the limit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Final, Protocol

from bankgate.errors import TokenError

__all__ = ["DEFAULT_MAX_FAILURES", "PinCounterStore", "PinGuard"]

log = logging.getLogger(__name__)

#: Chinese bank USB keys typically lock after 6 wrong PINs; the gateway locks first.
DEFAULT_MAX_FAILURES: Final = 5


class PinCounterStore(Protocol):
    """Durable wrong-PIN counts per token; each call is its own committed transaction."""

    def failures(self, token_id: str) -> int:
        """Consecutive wrong PINs recorded for the token (0 if none)."""
        ...

    def record_failure(self, token_id: str, at: dt.datetime) -> int:
        """Add one wrong PIN, atomically; the new count."""
        ...

    def reset(self, token_id: str, at: dt.datetime) -> None:
        """Set the count back to 0."""
        ...


class PinGuard:
    """Checks and counts PIN attempts for tokens against a `PinCounterStore`."""

    def __init__(self, store: PinCounterStore, *, max_failures: int = DEFAULT_MAX_FAILURES,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 on_locked: Callable[[str, int], None] | None = None) -> None:
        """`on_locked(token_id, failures)` is called once, by the attempt that locks it
        (services/tokens.py raises an alert there)."""
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self._store = store
        self._max = max_failures
        self._clock = clock
        self._on_locked = on_locked

    def check(self, token_id: str) -> None:
        """Raise `TokenError` if the token is locked; otherwise return (before a login)."""
        if self._store.failures(token_id) >= self._max:
            raise TokenError(f"token {token_id}: locked after {self._max} wrong PINs; "
                             "an administrator must unlock it (bankgate security unlock)")

    def failed(self, token_id: str) -> int:
        """Record a wrong PIN; how many attempts are left (0: now locked)."""
        count = self._store.record_failure(token_id, self._clock())
        if count >= self._max:
            log.error("token locked after wrong PINs", extra={"token": token_id,
                                                               "failures": count})
        if count == self._max and self._on_locked is not None:  # the one attempt that locked
            self._on_locked(token_id, count)
        return max(self._max - count, 0)

    def succeeded(self, token_id: str) -> None:
        """A correct PIN: the count goes back to 0."""
        if self._store.failures(token_id):
            self._store.reset(token_id, self._clock())

    def unlock(self, token_id: str) -> None:
        """An administrator's unlock of a locked token."""
        self._store.reset(token_id, self._clock())
        log.warning("token unlocked by an administrator", extra={"token": token_id})
