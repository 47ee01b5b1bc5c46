"""The shared HTTP client for bank channels: real TLS, timeouts, safe retries, error kinds.

`classify_transport_errors` says what a transport failure means for "never pay twice":
nothing reached the bank (`BankUnavailable`, safe to retry) or it may have (`OutcomeUnknown`,
ask with status()). Retries happen only for requests that are safe to repeat.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bankgate.errors import BankUnavailable, ConfigError, OutcomeUnknown

__all__ = ["HttpSettings", "backoff_s", "classify_transport_errors", "make_client",
           "read_capped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    """Transport settings of one bank channel."""

    ca_file: Path
    client_cert: Path | None = None
    client_key: Path | None = None
    connect_timeout_s: float = 3.0
    timeout_s: float = 10.0
    max_response_bytes: int = 20 * 1024 * 1024


def make_client(settings: HttpSettings) -> httpx.Client:
    """An httpx client that verifies the bank against its CA (TLS ≥ 1.2), with timeouts."""
    try:
        context = ssl.create_default_context(cafile=str(settings.ca_file))
        if settings.client_cert:
            context.load_cert_chain(str(settings.client_cert),
                                    str(settings.client_key) if settings.client_key else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS material for the bank cannot be loaded: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s,
                            pool=settings.connect_timeout_s)
    return httpx.Client(verify=context, timeout=timeout,
                        limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))


@contextmanager
def classify_transport_errors() -> Iterator[None]:
    """Translate httpx failures into BankUnavailable (not sent) or OutcomeUnknown (maybe sent)."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise BankUnavailable(f"cannot reach the bank: {type(exc).__name__}: {exc}") from exc
    except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
        raise OutcomeUnknown(f"the bank did not answer in time: {type(exc).__name__}") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise OutcomeUnknown(f"the connection broke before the answer: "
                             f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise OutcomeUnknown(f"transport failure: {type(exc).__name__}: {exc}") from exc


def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed response, refusing more than `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise OutcomeUnknown(f"the bank's answer exceeds {limit} bytes; not read further")
        chunks.append(chunk)
    return b"".join(chunks)


def backoff_s(attempt: int, *, base_s: float, cap_s: float = 10.0,
              retry_after: str | None = None) -> float:
    """Exponential back-off with full jitter; a bank's Retry-After (seconds) wins."""
    if retry_after:
        try:
            return min(cap_s, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return random.uniform(0, min(cap_s, base_s * 2 ** (attempt - 1)))
