"""The shared HTTP client for bank channels: real TLS, timeouts, safe retries, error kinds.

`classify_transport_errors` says what a transport failure means for "never pay twice":
nothing reached the bank (`BankUnavailable`, safe to retry) or it may have (`OutcomeUnknown`,
ask with status()). `with_retries` repeats only `BankUnavailable`, with exponential back-off
and full jitter, honouring a bank's `Retry-After`, within bounded attempts and total time.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Final, TypeVar

import httpx

from bankgate.errors import BankUnavailable, CertificateExpired, ConfigError, OutcomeUnknown

__all__ = ["MAX_RESPONSE_BYTES", "HttpSettings", "RetryPolicy", "backoff_s",
           "classify_transport_errors", "make_client", "read_capped", "retry_after_s",
           "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The largest answer we read from a bank; anything larger is refused, not buffered.
MAX_RESPONSE_BYTES: Final = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    """Transport settings of one bank channel (times in seconds)."""

    ca_file: Path
    client_cert: Path | None = None
    client_key: Path | None = None
    crl_file: Path | None = None  # the CA's CRL: a revoked bank certificate is refused
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    write_timeout_s: float = 10.0
    pool_timeout_s: float = 3.0
    max_response_bytes: int = MAX_RESPONSE_BYTES

    @property
    def body_deadline_s(self) -> float:
        """How long a whole answer body may take: a slow-drip body is cut off (slowloris)."""
        return self.read_timeout_s * 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how long a request that is safe to repeat is retried."""

    max_attempts: int = 3
    backoff_s: float = 0.2  # first wait's upper bound; doubled per attempt, full jitter
    backoff_cap_s: float = 5.0
    max_total_s: float = 30.0  # no retry starts after this much time since the first try


def make_client(settings: HttpSettings) -> httpx.Client:
    """An httpx client verifying the bank against its CA (TLS ≥ 1.2), mutual TLS if given."""
    try:
        context = ssl.create_default_context(cafile=str(settings.ca_file))
        if settings.client_cert:
            context.load_cert_chain(str(settings.client_cert),
                                    str(settings.client_key) if settings.client_key else None)
        if settings.crl_file:
            context.load_verify_locations(cafile=str(settings.crl_file))
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS material for the bank cannot be loaded "
                          f"(ca_file {settings.ca_file}): {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    timeout = httpx.Timeout(connect=settings.connect_timeout_s, read=settings.read_timeout_s,
                            write=settings.write_timeout_s, pool=settings.pool_timeout_s)
    return httpx.Client(verify=context, timeout=timeout, follow_redirects=False,
                        limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))


#: OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED: the peer's certificate is past its notAfter.
_CERT_HAS_EXPIRED: Final = 10


@contextmanager
def classify_transport_errors(*, peer: str = "the bank") -> Iterator[None]:
    """Translate httpx failures into BankUnavailable (not sent) or OutcomeUnknown (maybe sent).

    A handshake refused because the bank's TLS certificate has expired is CertificateExpired
    (nothing was sent; services raise an alert for it, I-10).
    """
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        if _peer_certificate_expired(exc):
            raise CertificateExpired(
                f"cannot reach {peer}: its TLS certificate has expired; nothing was sent; "
                "the bank must renew it (check the date on this machine too)",
                subject=f"{peer} TLS certificate", expired_on="") from exc
        raise BankUnavailable(f"cannot reach the bank: {type(exc).__name__}: {exc}") from exc
    except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
        raise OutcomeUnknown(f"the bank did not answer in time: {type(exc).__name__}") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError,
            httpx.CloseError) as exc:
        raise OutcomeUnknown(f"the connection broke before the answer: "
                             f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:  # anything else after the request may have left
        raise OutcomeUnknown(f"transport failure: {type(exc).__name__}: {exc}") from exc


def _peer_certificate_expired(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):  # httpx wraps httpcore wraps ssl
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_code == _CERT_HAS_EXPIRED
        seen = seen.__cause__ or seen.__context__
    return False


def read_capped(response: httpx.Response, limit: int, *, deadline_s: float) -> bytes:
    """The body of a streamed response; refuses more than `limit` bytes or `deadline_s`.

    Raises:
        OutcomeUnknown: the answer is too large or too slow (the bank may have acted).
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise OutcomeUnknown(f"the bank's answer declares {declared} bytes, over the "
                             f"{limit}-byte limit; not read")
    chunks: list[bytes] = []
    size = 0
    ends_at = time.monotonic() + deadline_s
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise OutcomeUnknown(f"the bank's answer exceeds {limit} bytes; not read further")
        if time.monotonic() > ends_at:
            raise OutcomeUnknown(f"the bank's answer took over {deadline_s:g} s to arrive")
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """A Retry-After header (delta-seconds or HTTP-date, RFC 9110 §10.2.3) in seconds."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_s(attempt: int, policy: RetryPolicy, retry_after: str | None = None) -> float:
    """The wait before retry `attempt + 1`: the bank's Retry-After wins, else full jitter."""
    asked = retry_after_s(retry_after)
    if asked is not None:
        return asked
    return random.uniform(0, min(policy.backoff_cap_s, policy.backoff_s * 2 ** (attempt - 1)))


def with_retries(send: Callable[[], T], policy: RetryPolicy, *, what: str,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> T:
    """`send()`, repeated only after `BankUnavailable` (nothing was done), within `policy`.

    `OutcomeUnknown` and every other error pass through at once: a request that may have
    reached the bank is never sent again here. When the next wait (a bank's Retry-After
    included) would end beyond `max_total_s`, the last `BankUnavailable` is raised as is.
    """
    started = clock()
    attempt = 1
    while True:
        try:
            return send()
        except BankUnavailable as exc:
            wait = backoff_s(attempt, policy, exc.retry_after)
            spent = clock() - started
            if attempt >= policy.max_attempts or spent + wait > policy.max_total_s:
                raise
            log.info("bank unavailable, retrying", extra={
                "what": what, "attempt": attempt, "wait_s": round(wait, 3),
                "bank_code": exc.bank_code})
        sleep(wait)
        attempt += 1
