"""HTTP calls to one host API bank: build, send, read (capped), classify, retry if safe.

`safe=True` marks requests that may be repeated without effect (balances, history, status,
statements): they are retried on any failure. A submit is retried only when nothing reached
the bank (connection refused, 503/429 "busy, nothing done"); any other failure of a submit is
`OutcomeUnknown` — the caller must ask with a status query.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from bankgate.connectors.base import ErrorClass
from bankgate.connectors.hostapi.banks import DIALECTS, Dialect
from bankgate.connectors.hostapi.config import HostApiConfig
from bankgate.connectors.http import backoff_s, classify_transport_errors, make_client, read_capped
from bankgate.domain import mask_numbers
from bankgate.errors import BankRejected, BankUnavailable, ChannelError, OutcomeUnknown

__all__ = ["HostApiClient"]

log = logging.getLogger(__name__)


class HostApiClient:
    """Requests to one bank, answered as parsed JSON plus the raw bytes."""

    def __init__(self, config: HostApiConfig) -> None:
        self.config = config
        self.dialect: Dialect = DIALECTS[config.dialect]
        self._http = make_client(config.http)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, str] | None = None, safe: bool) -> tuple[Any, bytes]:
        """Send one request (retrying what is safe to retry); the JSON answer and raw bytes."""
        attempts = max(1, self.config.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                status, raw, retry_after = self._send(method, path, body, params)
                if 200 <= status < 300:
                    return _json(raw, safe), raw
                self._refuse(status, raw, safe, retry_after)
            except (BankUnavailable, OutcomeUnknown) as exc:
                retry = isinstance(exc, BankUnavailable) or safe
                if not retry or attempt == attempts:
                    raise _for_caller(exc, safe) from exc
                retry_after = exc.retry_after
                log.info("bank request failed, retrying", extra={
                    "bank": self.config.bank, "path": path, "attempt": attempt,
                    "error": type(exc).__name__})
            time.sleep(backoff_s(attempt, base_s=self.config.backoff_s, retry_after=retry_after))
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None,
              params: Mapping[str, str] | None) -> tuple[int, bytes, str | None]:
        url = f"{self.config.base_url}{path}"
        with classify_transport_errors():
            request = self._http.build_request(method, url, json=body, params=params)
            response = self._http.send(request, stream=True)
            try:
                raw = read_capped(response, self.config.http.max_response_bytes)
            finally:
                response.close()
        return response.status_code, raw, response.headers.get("retry-after")

    def _refuse(self, status: int, raw: bytes, safe: bool, retry_after: str | None) -> None:
        """Raise the channel error a non-2xx answer means, per this bank's table."""
        code, message = _error_of(raw)
        meaning = self.dialect.error(code) if code else None
        text = f"{self.config.bank} answered HTTP {status}" + (f" {code}: {message}" if code
                                                               else "")
        if status in (429, 503) or (meaning and meaning.kind is ErrorClass.RETRYABLE):
            raise BankUnavailable(text, bank_code=code, raw=raw, retry_after=retry_after)
        if meaning is not None and meaning.kind is ErrorClass.TERMINAL and status < 500:
            raise BankRejected(text, bank_code=code, raw=raw)
        if safe:
            raise BankUnavailable(text, bank_code=code, raw=raw)
        raise OutcomeUnknown(text, bank_code=code, raw=raw)


def _error_of(raw: bytes) -> tuple[str, str]:
    try:
        error = json.loads(raw).get("error", {})
        return str(error.get("code", "")), mask_numbers(str(error.get("message", "")))[:200]
    except (ValueError, AttributeError):
        return "", ""


def _json(raw: bytes, safe: bool) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        error = BankUnavailable if safe else OutcomeUnknown
        raise error(f"the bank's answer is not JSON: {exc}", raw=raw[:2000]) from exc


def _for_caller(exc: ChannelError, safe: bool) -> ChannelError:
    """A read that kept failing is 'unavailable'; its outcome was never in doubt."""
    if safe and isinstance(exc, OutcomeUnknown):
        return BankUnavailable(exc.message, bank_code=exc.bank_code, raw=exc.raw)
    return exc
