"""Signed webhooks to the ERP: HMAC-SHA256 over the timestamp and the body.

Headers: `X-Bankgate-Event` (the event id; receivers drop duplicates by it),
`X-Bankgate-Timestamp` (Unix seconds) and `X-Bankgate-Signature: v1=<hex>`, the hex HMAC-SHA256
under the shared secret of `f"{timestamp}.".encode() + body`. A receiver recomputes it,
compares in constant time, and refuses timestamps more than `tolerance_s` away from its
clock, so that a captured request cannot be replayed later (A-02).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Final
from urllib.parse import urlsplit

from bankgate.errors import ConfigError
from bankgate.notify.errors import DeliveryFailed

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookSender", "sign", "verify"]

SIGNATURE_HEADER: Final = "X-Bankgate-Signature"
TIMESTAMP_HEADER: Final = "X-Bankgate-Timestamp"
EVENT_HEADER: Final = "X-Bankgate-Event"
_MIN_SECRET_BYTES: Final = 16


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(secret: bytes, *, timestamp: str, signature: str, body: bytes, now: float,
           tolerance_s: int = 300) -> bool:
    """True when `signature` is ours for `body` at `timestamp` and the time is fresh."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


class WebhookSender:
    """POSTs JSON bodies to one URL, signed; any answer but 2xx is a failed delivery."""

    def __init__(self, url: str, secret: bytes, *, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"webhook url: must be an http(s) URL with a host, got {url!r}")
        if len(secret) < _MIN_SECRET_BYTES:
            raise ConfigError(f"webhook secret: at least {_MIN_SECRET_BYTES} bytes")
        self.url = url
        self._secret = secret
        import httpx  # deferred: ~70 ms to import, and every process imports notify/

        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, event_id: str, body: bytes) -> None:
        """Deliver one event; raises DeliveryFailed."""
        import httpx  # loaded by __init__ already; named here for the except clause

        stamp = int(time.time())
        headers = {"Content-Type": "application/json", EVENT_HEADER: event_id,
                   TIMESTAMP_HEADER: str(stamp),
                   SIGNATURE_HEADER: sign(self._secret, stamp, body)}
        try:
            response = self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook to {self.url}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"webhook to {self.url}: HTTP {response.status_code}")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
