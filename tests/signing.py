"""Test helpers that speak the host API's message security (docs/hostapi-protocol.md).

`GatewaySigning` is an httpx auth that signs each request to `/<bank>/v1/...` with the
gateway key registered at that bank, so raw HTTP tests talk to the sandbox as the
gateway does; `bank_signer` signs callbacks as a sandbox bank would.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime

import httpx

from bankgate.crypto.keyfiles import load_signer
from bankgate.crypto.signed_http import sign_request
from bankgate.crypto.signer import Signer
from bankgate.sandbox.security import PartyKeys


def gateway_signer(keys: PartyKeys) -> Signer:
    """The gateway's signer for a bank."""
    return load_signer(keys.gateway.key_file, keys.algorithm,
                       password_file=keys.gateway.password_file, where="gateway key")


def bank_signer(keys: PartyKeys) -> Signer:
    """A sandbox bank's own signer (answers and callbacks)."""
    return load_signer(keys.bank.key_file, keys.algorithm,
                       password_file=keys.bank.password_file, where="bank key")


class GatewaySigning(httpx.Auth):
    """Signs requests to bank endpoints as the gateway; leaves `/_sandbox` alone."""

    requires_request_body = True

    def __init__(self, keys: dict[str, PartyKeys], *, clock_offset_s: float = 0.0) -> None:
        self.signers = {bank: gateway_signer(party) for bank, party in keys.items()}
        self.clock_offset_s = clock_offset_s

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response,
                                                             None]:
        bank = request.url.path.split("/")[1] if request.url.path.count("/") > 1 else ""
        signer = self.signers.get(bank)
        if signer is not None:
            now = datetime.fromtimestamp(datetime.now(UTC).timestamp() + self.clock_offset_s,
                                         UTC)
            request.headers.update(sign_request(
                signer, method=request.method, target=request.url.raw_path.decode("ascii"),
                body=request.content, now=now))
        yield request
