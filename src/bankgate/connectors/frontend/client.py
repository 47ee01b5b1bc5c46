"""HTTP to the front-end processor: post a GBK package, read the answer package, classify.

The front-end signs each package with the bank's token (SM2-SM3) and forwards it; what
comes back is the bank's package, or the front-end's own (RETCOD below 0) when it could not
reach the bank or verify its answer. `safe=True` marks reads: any failure of theirs is
retried and ends as `BankUnavailable`. A submit is retried only when nothing reached the
bank; otherwise its failure is `OutcomeUnknown` — ask with a status query, never resend.
"""

from __future__ import annotations

import ssl

import httpx

from bankgate.connectors.base import ErrorClass
from bankgate.connectors.frontend.banks import BANKS, FrontendBank
from bankgate.connectors.frontend.config import FrontendConfig
from bankgate.connectors.http import classify_transport_errors, read_capped, with_retries
from bankgate.domain import mask_numbers
from bankgate.errors import (
    BankRejected,
    BankUnavailable,
    ChannelError,
    ConfigError,
    FormatError,
    OutcomeUnknown,
)
from bankgate.formats.cn_directconnect import Package, read_package

__all__ = ["FrontendClient"]

_EVIDENCE_BYTES = 64 * 1024
_CONTENT_TYPE = "application/xml; charset=GBK"


class FrontendClient:
    """Posts packages to one front-end and returns the bank's answer packages."""

    def __init__(self, config: FrontendConfig) -> None:
        self.config = config
        self.bank: FrontendBank = BANKS[config.dialect]
        self._http = httpx.Client(verify=_tls(config), follow_redirects=False,
                                  timeout=httpx.Timeout(config.timeout_s,
                                                        connect=config.connect_timeout_s))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(self, function: str, body: bytes, *, safe: bool) -> tuple[Package, bytes]:
        """Post one package; the answer package with RETCOD 0, and its bytes."""
        what = f"{self.config.bank} {function}"
        return with_retries(lambda: self._once(function, body, safe, what), self.config.retry,
                            what=what)

    def _once(self, function: str, body: bytes, safe: bool,
              what: str) -> tuple[Package, bytes]:
        try:
            raw = self._post(body, what)
            package = _read(raw, what)
            self._check(package, raw, function, safe, what)
            return package, raw
        except OutcomeUnknown as exc:
            if not safe:
                raise
            raise BankUnavailable(exc.message, bank_code=exc.bank_code, raw=exc.raw) from exc

    def _post(self, body: bytes, what: str) -> bytes:
        with classify_transport_errors():
            request = self._http.build_request("POST", self.config.base_url, content=body,
                                               headers={"Content-Type": _CONTENT_TYPE})
            response = self._http.send(request, stream=True)
            try:
                raw = read_capped(response, self.config.max_response_bytes,
                                  deadline_s=self.config.timeout_s * 3)
            finally:
                response.close()
        if response.status_code == 503:
            raise BankUnavailable(f"{what}: the front-end is busy (HTTP 503)")
        if response.status_code != 200:
            raise OutcomeUnknown(f"{what}: the front-end answered HTTP {response.status_code}",
                                 raw=raw[:_EVIDENCE_BYTES])
        return raw

    def _check(self, package: Package, raw: bytes, function: str, safe: bool,
               what: str) -> None:
        code = package.info.get("RETCOD", "")
        if code == "0":
            if package.function != function:
                raise OutcomeUnknown(f"{what}: the answer is for {package.function!r}",
                                     raw=raw[:_EVIDENCE_BYTES])
            return
        raise self._refusal(code, mask_numbers(package.info.get("ERRMSG", ""))[:200], raw,
                            safe, what)

    def _refusal(self, code: str, message: str, raw: bytes, safe: bool,
                 what: str) -> ChannelError:
        meaning = self.bank.retcodes.get(code)
        kind = (meaning.read_kind if safe else meaning.kind) if meaning else ErrorClass.UNKNOWN
        text = f"{what}: RETCOD {code!r} ({meaning.text if meaning else 'not in the table'})"
        text += f": {message}" if message else ""
        evidence = raw[:_EVIDENCE_BYTES]
        if kind is ErrorClass.RETRYABLE:
            return BankUnavailable(text, bank_code=code, raw=evidence)
        if kind is ErrorClass.TERMINAL:
            return BankRejected(text, bank_code=code, raw=evidence)
        return (BankUnavailable if safe else OutcomeUnknown)(text, bank_code=code, raw=evidence)


def _read(raw: bytes, what: str) -> Package:
    """The answer package; bad XML is an unknown outcome (a read turns it into unavailable)."""
    try:
        return read_package(raw, what)
    except FormatError as exc:
        raise OutcomeUnknown(f"{what}: the answer is not a readable package: {exc}",
                             bank_code="malformed_xml", raw=raw[:_EVIDENCE_BYTES]) from exc


def _tls(config: FrontendConfig) -> ssl.SSLContext:
    if not config.base_url.startswith("https"):
        return ssl.create_default_context()  # unused: plain HTTP to the front-end machine
    try:
        context = ssl.create_default_context(cafile=str(config.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"banks.{config.bank}.ca_file: cannot be loaded: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
