"""HTTP calls to one host API bank: send, read (capped), classify by the bank's table, retry.

`safe=True` marks reads (balances, history, status, statements): repeating them has no
effect, so any failure of theirs is retried and ends as `BankUnavailable`. A submit
(`safe=False`) is retried only when nothing reached the bank (connection refused, 503/429,
a code the table marks retryable); any other failure of a submit is `OutcomeUnknown`: the
caller asks with a status query, never resends blindly (B-01…B-04, B-20).

Every request is signed (docs/hostapi-protocol.md, Signatures) afresh on every attempt, with
a new timestamp and nonce; every answer must carry the bank's signature bound to that nonce.
An answer that fails verification is treated as forged (B-15): for a submit the outcome is
unknown (a status query over a verified answer settles it), a read is retried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bankgate.connectors.base import ErrorClass
from bankgate.connectors.hostapi.banks import DIALECTS, Dialect
from bankgate.connectors.hostapi.config import HostApiConfig
from bankgate.connectors.http import (
    classify_transport_errors,
    make_client,
    read_capped,
    with_retries,
)
from bankgate.crypto.keyfiles import load_signer, load_verifier
from bankgate.crypto.pki import load_certificate
from bankgate.crypto.signed_http import (
    NONCE,
    SignatureRefused,
    SignedMessage,
    sign_request,
    verify_request,
    verify_response,
)
from bankgate.crypto.signer import Signer, Verifier
from bankgate.domain import mask_numbers
from bankgate.errors import (
    BankRejected,
    BankUnavailable,
    CertificateExpired,
    ChannelError,
    OutcomeUnknown,
)

__all__ = ["Answer", "HostApiClient"]

log = logging.getLogger(__name__)

#: HTTP statuses the protocol defines as "refused before anything was done".
_NOTHING_DONE = frozenset({429, 503})
_EVIDENCE_BYTES = 64 * 1024  # raw kept on an error whose body is not the protocol's


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer: the parsed JSON body and the bytes as received."""

    body: Any
    raw: bytes


class HostApiClient:
    """Requests to one bank, answered as parsed JSON plus the raw bytes."""

    def __init__(self, config: HostApiConfig) -> None:
        self.config = config
        self.dialect: Dialect = DIALECTS[config.dialect]
        where = f"banks.{config.bank}"
        self._signer: Signer = load_signer(
            config.signing_key, config.signature_algorithm,
            password_file=config.signing_key_password_file, where=f"{where}.signing_key")
        bank_key: Verifier = load_verifier(config.bank_public_key, config.signature_algorithm,
                                           where=f"{where}.bank_public_key")
        self._bank_keys = {bank_key.key_id: bank_key}
        self._client_cert_until = load_certificate(config.client_cert).not_valid_after_utc
        self._http = make_client(config.http)

    def verify_callback(self, headers: Mapping[str, str], *, target: str, body: bytes,
                        now: datetime) -> SignedMessage:
        """The bank's signature on a callback, checked (A-01) inside the clock window (I-07).

        Raises:
            SignatureRefused: unsigned, forged, or signed by another key.
            StaleOrReplayed: the timestamp is outside the window (a nonce seen before is
                the caller's check, against its store).
        """
        return verify_request(_Lookup(headers), method="POST", target=target, body=body,
                              verifiers=self._bank_keys, now=now,
                              window_s=self.config.clock_window_s)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, str] | None = None, safe: bool) -> Answer:
        """Send one request, retrying only what is safe; its 2xx JSON answer.

        Raises:
            BankUnavailable: nothing was done (or, for a read, it kept failing).
            BankRejected: the bank refused the request with a terminal code.
            OutcomeUnknown: a submit that may have reached the bank.
        """
        what = f"{self.config.bank} {method} {mask_numbers(path)}"  # INV-7: numbers in paths
        self._refuse_if_certificate_expired(what)
        return with_retries(lambda: self._once(method, path, body, params, safe, what),
                            self.config.retry, what=what)

    def _refuse_if_certificate_expired(self, what: str) -> None:
        """I-10: with an expired client certificate nothing is sent (the bank would refuse the
        handshake, and under TLS 1.3 only after the request left: an unknown outcome)."""
        if datetime.now(UTC) < self._client_cert_until:
            return
        name = f"{self.config.bank} client certificate {self.config.client_cert.name}"
        expired_on = self._client_cert_until.date().isoformat()
        raise CertificateExpired(f"{what}: not sent: our {name} expired on {expired_on}; "
                                 f"renew it (banks.{self.config.bank}.client_cert)",
                                 subject=name, expired_on=expired_on)

    def _once(self, method: str, path: str, body: Mapping[str, Any] | None,
              params: Mapping[str, str] | None, safe: bool, what: str) -> Answer:
        try:
            response, raw = self._send(method, path, body, params)
            if 200 <= response.status_code < 300:
                return Answer(_json(raw, what), raw)
            raise self._refusal(response, raw, safe, what)
        except OutcomeUnknown as exc:
            if not safe:
                raise
            # A read has no effect at the bank: "may have happened" does not matter.
            raise BankUnavailable(exc.message, bank_code=exc.bank_code, raw=exc.raw) from exc

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None,
              params: Mapping[str, str] | None) -> tuple[httpx.Response, bytes]:
        url = f"{self.config.base_url}{path}"
        http = self.config.http
        with classify_transport_errors(peer=f"bank {self.config.bank}"):
            request = self._http.build_request(method, url, json=body, params=params)
            target = request.url.raw_path.decode("ascii")
            signed = sign_request(self._signer, method=method, target=target,
                                  body=request.content, now=datetime.now(UTC))
            request.headers.update(signed)
            response = self._http.send(request, stream=True)
            try:
                raw = read_capped(response, http.max_response_bytes,
                                  deadline_s=http.body_deadline_s)
            finally:
                response.close()
        self._verify_answer(response, raw, method, target, signed[NONCE])
        return response, raw

    def _verify_answer(self, response: httpx.Response, raw: bytes, method: str, target: str,
                       nonce: str) -> None:
        """B-15: an answer without the bank's valid signature is forged: its outcome unknown."""
        try:
            verify_response(response.headers, status=response.status_code, method=method,
                            target=target, request_nonce=nonce, body=raw,
                            verifiers=self._bank_keys)
        except SignatureRefused as exc:
            log.warning("bank answer failed verification", extra={
                "bank": self.config.bank, "code": exc.failure.value, "key_id": exc.key_id})
            raise OutcomeUnknown(f"{self.config.bank} {method}: the answer (HTTP "
                                 f"{response.status_code}) is treated as forged: {exc}",
                                 bank_code=exc.failure.value,
                                 raw=raw[:_EVIDENCE_BYTES]) from exc

    def _refusal(self, response: httpx.Response, raw: bytes, safe: bool,
                 what: str) -> ChannelError:
        """The channel error a non-2xx answer means, per this bank's table."""
        status = response.status_code
        code, message = _error_of(raw)
        meaning = self.dialect.error(code) if code else None
        text = f"{what}: HTTP {status}" + (f" {code} ({meaning.reason_code if meaning else ''}"
                                           f"): {message}" if code else " without an error code")
        retry_after = response.headers.get("retry-after")
        evidence = raw[:_EVIDENCE_BYTES]
        kind = meaning.kind_for(safe=safe) if meaning else ErrorClass.UNKNOWN
        if status in _NOTHING_DONE or kind is ErrorClass.RETRYABLE:
            return BankUnavailable(text, bank_code=code, raw=evidence, retry_after=retry_after)
        if kind is ErrorClass.TERMINAL and status < 500:
            return BankRejected(text, bank_code=code, raw=evidence)
        if safe:
            return BankUnavailable(text, bank_code=code, raw=evidence)
        return OutcomeUnknown(text, bank_code=code, raw=evidence)


class _Lookup:
    """Case-insensitive header lookup over any mapping (API frameworks differ)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = {k.lower(): v for k, v in headers.items()}

    def get(self, name: str, /) -> str | None:
        return self._headers.get(name.lower())


def _error_of(raw: bytes) -> tuple[str, str]:
    """The protocol's `{"error": {"code", "message"}}`, message masked (INV-7); else blanks."""
    try:
        error = json.loads(raw).get("error")
        code, message = error.get("code"), error.get("message")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(code, str):
        return "", ""
    return code, mask_numbers(message if isinstance(message, str) else "")[:200]


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise OutcomeUnknown(f"{what}: the answer is not JSON: {exc}",
                             raw=raw[:_EVIDENCE_BYTES]) from exc
