"""The sandbox banks' message security: who may call, and how the banks sign.

Each bank has its own signing key (answers and callbacks) and the gateway keys registered
with it (by key id). A request to a bank endpoint must be signed by a registered key, inside
the clock window of *that bank's* clock (the `clock_offset_s` knob, I-07), with a nonce not
seen before (A-02); anything else is refused with HTTP 401 and the protocol's AUTH_ code
before the bank does anything. Every refusal is kept (`refusals`) with key id and reason,
the bank's own audit trail (A-01).
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509

from bankgate.crypto.keyfiles import load_signer, load_verifier
from bankgate.crypto.pki import TestPki, server_ssl_context, write_crl
from bankgate.crypto.signed_http import (
    KEY_ID,
    WINDOW_S,
    HeaderLookup,
    NonceCache,
    SignatureRefused,
    SignedMessage,
    StaleOrReplayed,
    sign_request,
    sign_response,
    verify_request,
)
from bankgate.crypto.signer import Algorithm, Signer, Verifier
from bankgate.crypto.testkeys import SigningKeyFiles, issue_signing_key
from bankgate.domain import mask_numbers

__all__ = ["DEFAULT_ALGORITHMS", "BankKeys", "PartyKeys", "Refused", "SandboxSecurity",
           "build_security", "issue_keys", "mtls_server_context"]

log = logging.getLogger(__name__)

_KEPT_REFUSALS: Final = 1000


@dataclass(frozen=True, slots=True)
class BankKeys:
    """One bank's signing key and the client keys registered with it."""

    signer: Signer
    clients: Mapping[str, Verifier]


@dataclass(frozen=True, slots=True)
class Refused:
    """One refused request, as the bank records it (never the body or a key)."""

    bank: str
    at: datetime
    code: str
    key_id: str
    target: str
    message: str


@dataclass
class SandboxSecurity:
    """Signing and verification for every bank of the sandbox."""

    banks: Mapping[str, BankKeys]
    window_s: float = WINDOW_S
    nonces: NonceCache = field(default_factory=NonceCache)
    refusals: deque[Refused] = field(default_factory=lambda: deque(maxlen=_KEPT_REFUSALS))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _impostors: dict[str, Signer] = field(default_factory=dict)

    def check(self, bank: str, headers: HeaderLookup, *, method: str, target: str,
              body: bytes, now: datetime) -> SignedMessage:
        """The verified request, its nonce now remembered; raises and records a refusal."""
        try:
            message = verify_request(headers, method=method, target=target, body=body,
                                     verifiers=self.banks[bank].clients, now=now,
                                     window_s=self.window_s)
            self.nonces.remember(message, now=now)
        except (SignatureRefused, StaleOrReplayed) as exc:
            self._record(Refused(bank=bank, at=now, code=exc.failure.value,
                                 key_id=exc.key_id, target=mask_numbers(target)[:200],
                                 message=str(exc)))
            raise
        return message

    def sign_answer(self, bank: str, *, status: int, method: str, target: str,
                    request_nonce: str, body: bytes, now: datetime,
                    impostor: bool = False) -> dict[str, str]:
        """The headers signing a bank's answer, bound to the request's nonce.

        With `impostor` (the `forged_answer` fault, B-15) the answer is signed with a key of
        the right algorithm that is not the bank's, but names the bank's key id: a forgery.
        """
        signer = self.banks[bank].signer
        headers = sign_response(self._impostor(bank) if impostor else signer, status=status,
                                method=method, target=target, request_nonce=request_nonce,
                                body=body, now=now)
        return {**headers, KEY_ID: signer.key_id}

    def _impostor(self, bank: str) -> Signer:
        with self._lock:
            found = self._impostors.get(bank)
            if found is None:
                found = self._impostors[bank] = _throwaway_signer(self.banks[bank].signer)
            return found

    def callback_signer(self, bank: str) -> Callable[[str, bytes, datetime], dict[str, str]]:
        """sign(target, body, now) → headers for one callback delivery of `bank`."""
        signer = self.banks[bank].signer

        def sign(target: str, body: bytes, now: datetime) -> dict[str, str]:
            return sign_request(signer, method="POST", target=target, body=body, now=now)
        return sign

    def _record(self, refused: Refused) -> None:
        with self._lock:
            self.refusals.append(refused)
        log.warning("request refused", extra={"bank": refused.bank, "code": refused.code,
                                              "key_id": refused.key_id,
                                              "target": refused.target})


#: The algorithm each dialect's bank signs with unless the sandbox is told otherwise.
DEFAULT_ALGORITHMS: Final[Mapping[str, Algorithm]] = {
    "icbc": Algorithm.RSA_SHA256, "cmb": Algorithm.SM2_SM3,
    "boc": Algorithm.ECDSA_P256_SHA256}


@dataclass(frozen=True, slots=True)
class PartyKeys:
    """The key files of one bank and of the gateway key registered with it."""

    algorithm: Algorithm
    bank: SigningKeyFiles
    gateway: SigningKeyFiles


def issue_keys(pki: TestPki, banks: Mapping[str, str],
               algorithms: Mapping[str, Algorithm] | None = None) -> dict[str, PartyKeys]:
    """Key files per bank (`banks`: bank id → dialect): the bank's own, and the gateway's
    key of the same algorithm (one gateway key per algorithm, shared by its banks)."""
    chosen = {bank: (algorithms or {}).get(bank) or DEFAULT_ALGORITHMS.get(dialect)
              or Algorithm.ECDSA_P256_SHA256 for bank, dialect in banks.items()}
    gateway = {alg: issue_signing_key(pki, f"gateway-{_slug(alg)}", alg)
               for alg in sorted(set(chosen.values()))}
    return {bank: PartyKeys(alg, issue_signing_key(pki, f"bank-{bank}-{_slug(alg)}", alg),
                            gateway[alg]) for bank, alg in chosen.items()}


def build_security(keys: Mapping[str, PartyKeys], *,
                   window_s: float = WINDOW_S) -> SandboxSecurity:
    """The sandbox's signers and registered client keys, loaded from the key files."""
    banks = {}
    for bank, party in keys.items():
        signer = load_signer(party.bank.key_file, party.algorithm,
                             password_file=party.bank.password_file, where=f"sandbox {bank}")
        client = load_verifier(party.gateway.public_file, party.algorithm,
                               where=f"sandbox {bank} client key")
        banks[bank] = BankKeys(signer=signer, clients={client.key_id: client})
    return SandboxSecurity(banks=banks, window_s=window_s)


def _slug(algorithm: Algorithm) -> str:
    return algorithm.value.lower()


def _throwaway_signer(like: Signer) -> Signer:
    """A fresh key of the same algorithm as `like` (for forged answers)."""
    if like.algorithm is Algorithm.SM2_SM3:
        from bankgate.crypto.sm import Sm2Signer, generate_sm2_key

        return Sm2Signer(generate_sm2_key())
    from bankgate.crypto.software import SoftwareSigner, generate_private_key

    return SoftwareSigner.from_key(generate_private_key(like.algorithm))


def mtls_server_context(pki: TestPki) -> ssl.SSLContext:
    """The sandbox's TLS: ≥ 1.2, a client certificate from the test CA required and checked
    against the CA's CRL (`crl.pem`, written empty when missing or out of date; A-04)."""
    crl = pki.directory / "crl.pem"
    if not _fresh_crl(crl):
        write_crl(pki, [])
    context = server_ssl_context(pki, require_client_cert=True)
    context.load_verify_locations(cafile=str(crl))
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return context


def _fresh_crl(path: Path) -> bool:
    try:
        crl = x509.load_pem_x509_crl(path.read_bytes())
    except (OSError, ValueError):
        return False
    until = crl.next_update_utc
    return until is not None and until > datetime.now(UTC) + timedelta(days=1)
