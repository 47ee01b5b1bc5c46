"""PKCS#11 tokens (the USB Key, U盾): RSA-SHA256 and ECDSA P-256 signing inside the token.

python-pkcs11 drives the token's module (SoftHSM2 in tests). The private key is generated
inside the token, sensitive and not extractable; the gateway only ever holds a handle. RSA
signs with CKM_SHA256_RSA_PKCS; ECDSA pre-hashes with SHA-256 and uses plain CKM_ECDSA,
because SoftHSM 2.6 lacks CKM_ECDSA_SHA256 (RELIABILITY.md, Cautions); the token's raw
r || s is DER-encoded so its signatures look like a software key's.

SoftHSM never locks a PIN, and real tokens lock after a vendor-set count that the gateway
cannot see, so every login goes through a `PinGuard` (crypto/pin.py): refused outright once
locked, a wrong PIN counted in a store that survives restarts (A-12). The PIN is never
logged nor put in an error. A token that disappears (unplugged, its SoftHSM file deleted)
raises `TokenError` and nothing is signed (I-11).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, cast

import pkcs11
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import (
    encode_ec_public_key,
    encode_ecdsa_signature,
    encode_named_curve_parameters,
)
from pkcs11.util.rsa import encode_rsa_public_key

from bankgate.crypto.pin import PinGuard
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.software import PublicKey, public_key_id
from bankgate.errors import ConfigError, TokenError

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Module
    from pkcs11.types import Key, SignMixin

__all__ = ["SOFTHSM_MODULES", "TokenSession", "TokenSigner", "default_module", "open_token"]

log = logging.getLogger(__name__)

_PRIVATE_TEMPLATE = {Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True,
                     Attribute.SIGN: True, Attribute.TOKEN: True, Attribute.PRIVATE: True}


#: Where Debian and others install SoftHSM2's PKCS#11 module.
SOFTHSM_MODULES = (Path("/usr/lib/softhsm/libsofthsm2.so"),
                   Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
                   Path("/usr/local/lib/softhsm/libsofthsm2.so"),
                   Path("/opt/homebrew/lib/softhsm/libsofthsm2.so"))


def default_module() -> Path | None:
    """The SoftHSM2 module on this machine, if installed."""
    return next((path for path in SOFTHSM_MODULES if path.is_file()), None)


@contextmanager
def _token_errors(what: str) -> Iterator[None]:
    """Translate the module's errors into one `TokenError` line naming the token."""
    try:
        yield
    except TokenError:
        raise
    except pkcs11.exceptions.PKCS11Error as exc:
        raise TokenError(f"{what}: {type(exc).__name__} (token absent, removed or "
                         "refusing)") from exc


def _module(path: Path) -> Pkcs11Module:
    if not path.is_file():
        raise ConfigError(f"PKCS#11 module {path} not found (install softhsm2 or the "
                          "token vendor's module)")
    return pkcs11.lib(str(path))


def open_token(module: Path, token_label: str, pin: str, *, guard: PinGuard) -> TokenSession:
    """Log in to the token labelled `token_label` with `pin`, through `guard`.

    Raises:
        TokenError: no such token, the guard has locked it, or the PIN is wrong.
    """
    with _token_errors(f"token {token_label!r}"):
        token = _module(module).get_token(token_label=token_label)
        token_id = f"{token_label}#{token.serial.decode('ascii', 'replace').strip()}"
        guard.check(token_id)
        try:
            session = token.open(user_pin=pin, rw=True)
        except (pkcs11.exceptions.PinIncorrect, pkcs11.exceptions.PinLenRange) as exc:
            left = guard.failed(token_id)
            log.warning("wrong PIN for token", extra={"token": token_id, "attempts_left": left})
            suffix = "it is now locked" if left == 0 else f"{left} attempt(s) left"
            raise TokenError(f"token {token_label!r}: wrong PIN ({suffix})") from exc
        except pkcs11.exceptions.PinLocked as exc:
            raise TokenError(f"token {token_label!r}: the token itself locked the PIN") from exc
        guard.succeeded(token_id)
    return TokenSession(session=session, token_id=token_id, token_label=token_label)


@dataclass(slots=True)
class TokenSession:
    """A logged-in session on one token; close it (or use `with`) when done."""

    session: pkcs11.Session = field(repr=False)
    token_id: str
    token_label: str

    def __enter__(self) -> TokenSession:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Log out and close the session (errors from a token already gone are ignored)."""
        try:
            self.session.close()
        except pkcs11.exceptions.PKCS11Error:
            log.info("token session already gone", extra={"token": self.token_id})

    def generate_key(self, label: str, algorithm: Algorithm) -> TokenSigner:
        """Generate a non-extractable RSA-2048 or P-256 key pair inside the token."""
        with _token_errors(f"token {self.token_label!r}"):
            if algorithm is Algorithm.RSA_SHA256:
                self.session.generate_keypair(KeyType.RSA, 2048, store=True, label=label,
                                              private_template=_PRIVATE_TEMPLATE)
            elif algorithm is Algorithm.ECDSA_P256_SHA256:
                params = self.session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True)
                params.generate_keypair(store=True, label=label,
                                        private_template=_PRIVATE_TEMPLATE)
            else:
                raise ConfigError(f"a PKCS#11 token here signs RSA-SHA256 or "
                                  f"ECDSA-P256-SHA256, not {algorithm}")
        return self.signer(label)

    def signer(self, key_label: str) -> TokenSigner:
        """The signer for the key pair labelled `key_label` in this token."""
        with _token_errors(f"token {self.token_label!r}, key {key_label!r}"):
            try:
                private = self.session.get_key(object_class=ObjectClass.PRIVATE_KEY,
                                               label=key_label)
                public = self.session.get_key(object_class=ObjectClass.PUBLIC_KEY,
                                              label=key_label)
            except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned) as exc:
                raise TokenError(f"token {self.token_label!r}: no single key pair labelled "
                                 f"{key_label!r}") from exc
            if private.key_type == KeyType.RSA:
                algorithm = Algorithm.RSA_SHA256
                der = encode_rsa_public_key(cast(pkcs11.PublicKey, public))
            elif private.key_type == KeyType.EC:
                algorithm = Algorithm.ECDSA_P256_SHA256
                der = encode_ec_public_key(cast(pkcs11.PublicKey, public))
            else:
                raise TokenError(f"token {self.token_label!r}: key {key_label!r} is "
                                 f"{private.key_type.name}, not RSA or EC")
        public_key = serialization.load_der_public_key(der)
        assert isinstance(public_key, PublicKey)
        return TokenSigner(private=private, public_key=public_key, algorithm=algorithm,
                           key_id=public_key_id(public_key),
                           where=f"token {self.token_label!r}, key {key_label!r}")


@dataclass(frozen=True, slots=True)
class TokenSigner:
    """Signs inside the token; holds a handle, never the key."""

    private: Key = field(repr=False)
    public_key: PublicKey = field(repr=False)
    algorithm: Algorithm
    key_id: str
    where: str

    def sign(self, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 or DER ECDSA over SHA-256(data); `TokenError` if the token is gone."""
        key = cast("SignMixin", self.private)
        with _token_errors(self.where):
            if self.algorithm is Algorithm.RSA_SHA256:
                return bytes(key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))
            raw = key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
            return encode_ecdsa_signature(raw)
