"""Signed bank callbacks: verified, fresh and never seen before, or refused and audited.

The order of checks (docs/hostapi-protocol.md, Signatures): the bank's signature and the
clock window (the channel, A-01 and I-07), then the nonce against the database-backed store
shared by every API process (A-02), then the callback's content (B-09…B-11). A refusal
changes no order and leaves one `callback.refused` audit record with the bank, key id and
reason; the nonce is remembered in its own transaction, so a callback that fails later is
not blocked when the bank delivers it again (each delivery is signed afresh).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bankgate.connectors.base import Channel
from bankgate.crypto.signed_http import AuthFailure, SignedMessage, StaleOrReplayed
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import NotFound, SecurityError
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.status import Applied, apply_callback
from bankgate.store import UnitOfWork

__all__ = ["receive_signed_callback"]


def receive_signed_callback(*, uow: UowFactory, channels: Mapping[str, Channel], bank: str,
                            headers: Mapping[str, str], target: str, body: bytes,
                            now: Callable[[], datetime]) -> Applied:
    """Verify, de-duplicate by nonce, read and apply one bank callback.

    Raises:
        NotFound: no channel for that bank, or it sends no callbacks.
        SecurityError: forged, unsigned, stale or replayed (audited before raising).
        ChannelError: a validly signed body that is not a callback of that bank.
    """
    channel = channels.get(bank)
    inner = getattr(channel, "inner", channel)  # under the Logged wrapper
    verify = getattr(inner, "verify_callback", None)
    if channel is None or verify is None:
        raise NotFound(f"no bank {bank!r} with callbacks is configured")
    try:
        message: SignedMessage = verify(headers, target=target, body=body, now=now())
        ttl = timedelta(seconds=float(getattr(inner, "nonce_ttl_s", 600.0)))
        _remember(uow, bank, message, now(), ttl)
    except SecurityError as exc:
        _audit_refusal(uow, bank, exc, now())
        raise
    report = channel.read_callback(body)  # type: ignore[attr-defined]
    return apply_callback(uow=uow, bank=bank, report=report, now=now)


def _remember(uow: UowFactory, bank: str, message: SignedMessage, at: datetime,
              ttl: timedelta) -> None:
    new = in_transaction(uow, lambda unit: unit.nonces.remember(
        f"callback:{bank}", message.nonce, key_id=message.key_id, at=at, ttl=ttl))
    if not new:
        raise StaleOrReplayed(AuthFailure.REPLAYED, f"nonce {message.nonce[:16]}… was seen "
                              "before: a replayed callback", key_id=message.key_id)


def _audit_refusal(uow: UowFactory, bank: str, error: SecurityError, at: datetime) -> None:
    failure = getattr(error, "failure", None)
    detail = {"reason": str(error)[:300], "code": failure.value if failure else error.code,
              "key_id": getattr(error, "key_id", "")}

    def work(unit: UnitOfWork) -> None:
        unit.audit.append(AuditRecord(
            at=at, actor=f"bank:{bank}", action="callback.refused", subject_kind="request",
            subject_id=f"callback:{bank}"[:40], detail=detail))
    in_transaction(uow, work)
