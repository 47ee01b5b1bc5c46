"""China's commercial cryptography: SM2 signatures with SM3, the SM3 digest, SM4-GCM.

SM2 (GB/T 32918.2-2016, GM/T 0003.2-2012) comes from `tongsuopy` (bindings to Tongsuo, the
OpenSSL fork maintained by Ant Group): the fastest correct SM2 on PyPI measured here (see
docs/security.md), its nonces drawn by the library's CSPRNG. The pure-Python `gmssl` package
must never sign: it draws the nonce with `random`, which can leak the private key.

Signatures are over e = SM3(Z_A || M), where Z_A hashes the user ID, the curve and the public
key. The user ID is fixed to GM/T 0009's default "1234567812345678", which is what Tongsuo
uses when none is set; the GM/T 0003.5 Annex A vector in tests/crypto proves both. A bank
that requires another ID needs a signer that takes the digest (not built). The signature is
DER-encoded (r, s) (GM/T 0009 SM2Signature).

SM3 and SM4 come from `cryptography` (SM3: GB/T 32905-2016; SM4: GB/T 32907-2016).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto import hashes as ts_hashes  # type: ignore[import-untyped]
from tongsuopy.crypto import serialization as ts_serialization
from tongsuopy.crypto.asymciphers import ec as ts_ec  # type: ignore[import-untyped]
from tongsuopy.crypto.exceptions import InvalidSignature  # type: ignore[import-untyped]

from bankgate.crypto.signer import Algorithm
from bankgate.errors import ConfigError, SecurityError, SignatureInvalid

__all__ = ["DEFAULT_USER_ID", "SM2_CURVE", "Sm2Signer", "Sm2Verifier", "Sm4Gcm",
           "generate_sm2_key", "sm2_encrypted_pem", "sm2_z", "sm3"]

#: GM/T 0009-2012 §10: the default user ID (distinguishing identifier) for SM2 signatures.
DEFAULT_USER_ID: Final = b"1234567812345678"


@dataclass(frozen=True, slots=True)
class _Curve:
    """The SM2 recommended curve over Fp-256 (GB/T 32918.5-2017)."""

    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int


SM2_CURVE: Final = _Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of `data`."""
    hasher = hashes.Hash(hashes.SM3())
    hasher.update(data)
    return hasher.finalize()


def sm2_z(public_x: int, public_y: int, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 §5.5)."""
    bits = len(user_id) * 8
    if bits >= 1 << 16:
        raise ValueError("an SM2 user ID is at most 8191 bytes")
    fields = (SM2_CURVE.a, SM2_CURVE.b, SM2_CURVE.gx, SM2_CURVE.gy, public_x, public_y)
    return sm3(bits.to_bytes(2, "big") + user_id + b"".join(f.to_bytes(32, "big")
                                                            for f in fields))


def generate_sm2_key() -> object:
    """A new SM2 private key (a tongsuopy key object)."""
    return ts_ec.generate_private_key(ts_ec.SM2())


def sm2_encrypted_pem(key: object, password: bytes) -> bytes:
    """An SM2 private key as PKCS#8 PEM encrypted under `password`."""
    if not password:
        raise ConfigError("a key file password must not be empty")
    return cast(bytes, key.private_bytes(  # type: ignore[attr-defined]
        ts_serialization.Encoding.PEM, ts_serialization.PrivateFormat.PKCS8,
        ts_serialization.BestAvailableEncryption(password)))


def _public_pem(public_key: object) -> bytes:
    return cast(bytes, public_key.public_bytes(  # type: ignore[attr-defined]
        ts_serialization.Encoding.PEM, ts_serialization.PublicFormat.SubjectPublicKeyInfo))


def _key_id(public_key: object) -> str:
    """SHA-256 fingerprint of the DER SubjectPublicKeyInfo, as for software keys."""
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        ts_serialization.Encoding.DER, ts_serialization.PublicFormat.SubjectPublicKeyInfo)
    hasher = hashes.Hash(hashes.SHA256())
    hasher.update(cast(bytes, der))
    return hasher.finalize().hex()


def _is_sm2(key: object) -> bool:
    return isinstance(getattr(key, "curve", None), ts_ec.SM2)


class Sm2Signer:
    """Signs with an SM2 private key loaded from an encrypted PKCS#8 PEM."""

    __slots__ = ("_key", "key_id")
    algorithm: Final = Algorithm.SM2_SM3

    def __init__(self, key: object) -> None:
        if not _is_sm2(key):
            raise ConfigError("not an SM2 private key")
        self._key = key
        self.key_id = _key_id(key.public_key())  # type: ignore[attr-defined]

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes, *, where: str = "SM2 key") -> Sm2Signer:
        """Load an encrypted SM2 PKCS#8 PEM key; `where` names the file in errors."""
        if b"ENCRYPTED" not in pem:
            raise ConfigError(f"{where}: the private key is not encrypted")
        try:
            key = ts_serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: cannot load the private key "
                              "(wrong password, or not a PEM private key)") from exc
        if not _is_sm2(key):
            raise ConfigError(f"{where}: not an SM2 key")
        return cls(key)

    def public_pem(self) -> bytes:
        """The public key as PEM SubjectPublicKeyInfo (for the bank or the verifier)."""
        return _public_pem(self._key.public_key())  # type: ignore[attr-defined]

    def sign(self, data: bytes) -> bytes:
        """The DER (r, s) SM2 signature over SM3(Z_A || data), default user ID."""
        try:
            signature = self._key.sign(data, ts_ec.ECDSA(ts_hashes.SM3()))  # type: ignore[attr-defined]
        except ValueError as exc:  # the library failed; never return half a result
            raise SecurityError(f"SM2 signing failed for key {self.key_id[:16]}") from exc
        return cast(bytes, signature)

    def __repr__(self) -> str:
        return f"Sm2Signer(key_id={self.key_id[:16]}…)"


class Sm2Verifier:
    """Checks SM2-with-SM3 signatures (default user ID) made by one public key."""

    __slots__ = ("_key", "key_id")
    algorithm: Final = Algorithm.SM2_SM3

    def __init__(self, public_key: object) -> None:
        if not _is_sm2(public_key):
            raise ConfigError("not an SM2 public key")
        self._key = public_key
        self.key_id = _key_id(public_key)

    @classmethod
    def from_public_pem(cls, pem: bytes, *, where: str = "SM2 public key") -> Sm2Verifier:
        """A verifier over a PEM SubjectPublicKeyInfo."""
        try:
            key = ts_serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: not a PEM public key") from exc
        return cls(key)

    @classmethod
    def from_point(cls, x: int, y: int) -> Sm2Verifier:
        """A verifier over the public point (x, y) on the SM2 curve."""
        try:
            key = ts_ec.EllipticCurvePublicNumbers(x, y, ts_ec.SM2()).public_key()
        except ValueError as exc:
            raise ConfigError("the point is not on the SM2 curve") from exc
        return cls(key)

    def verify(self, data: bytes, signature: bytes) -> None:
        """Return if `signature` holds over `data`; raise `SignatureInvalid` if not."""
        try:
            self._key.verify(signature, data, ts_ec.ECDSA(ts_hashes.SM3()))  # type: ignore[attr-defined]
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid(f"SM2-SM3 signature does not verify for key "
                                   f"{self.key_id[:16]}") from exc


class Sm4Gcm:
    """SM4 in GCM mode (authenticated, 96-bit nonces, 128-bit tags) over a 16-byte key."""

    __slots__ = ("_key",)
    NONCE_BYTES: Final = 12
    TAG_BYTES: Final = 16

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ConfigError(f"an SM4 key has 16 bytes, not {len(key)}")
        self._key = key

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Ciphertext followed by the 16-byte tag (the AESGCM layout)."""
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return body + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes = b"") -> bytes:
        """The plaintext; raises `SecurityError` when the tag does not verify."""
        if len(data) < self.TAG_BYTES:
            raise SecurityError("SM4-GCM data shorter than its tag")
        body, tag = data[:-self.TAG_BYTES], data[-self.TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag as exc:
            raise SecurityError("SM4-GCM authentication failed") from exc

    @staticmethod
    def new_nonce() -> bytes:
        """A random 96-bit nonce (never reuse one under the same key)."""
        return os.urandom(Sm4Gcm.NONCE_BYTES)
