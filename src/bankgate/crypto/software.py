"""Software keys: RSA-SHA256 and ECDSA P-256 signers over an encrypted PEM private key.

The private key file is PKCS#8 PEM encrypted with a password (`BEGIN ENCRYPTED PRIVATE
KEY`); an unencrypted key is refused unless the caller says so. The verifier takes a public
key (PEM) or an X.509 certificate. Key ids are the SHA-256 fingerprint of the public key's
SubjectPublicKeyInfo, so a signer and the verifier for its public key name the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bankgate.crypto.signer import Algorithm
from bankgate.errors import ConfigError, SignatureInvalid

__all__ = ["SoftwareSigner", "SoftwareVerifier", "encrypted_pem", "generate_private_key",
           "public_key_id"]

#: Smaller RSA keys are refused (NIST SP 800-57: 2048 bits through 2030).
MIN_RSA_BITS: Final = 2048

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def generate_private_key(algorithm: Algorithm) -> PrivateKey:
    """A new RSA-2048 or P-256 private key for `algorithm`."""
    if algorithm is Algorithm.RSA_SHA256:
        return rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    if algorithm is Algorithm.ECDSA_P256_SHA256:
        return ec.generate_private_key(ec.SECP256R1())
    raise ConfigError(f"software keys are RSA-SHA256 or ECDSA-P256-SHA256, not {algorithm}")


def encrypted_pem(key: PrivateKey, password: bytes) -> bytes:
    """`key` as PKCS#8 PEM encrypted under `password` (the library's best encryption)."""
    if not password:
        raise ConfigError("a key file password must not be empty")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password))


def public_key_id(key: PublicKey) -> str:
    """The SHA-256 fingerprint (hex) of the key's DER SubjectPublicKeyInfo."""
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    hasher = hashes.Hash(hashes.SHA256())
    hasher.update(der)
    return hasher.finalize().hex()


def _algorithm_of(key: PrivateKey | PublicKey, where: str) -> Algorithm:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(f"{where}: RSA key of {key.key_size} bits; at least "
                              f"{MIN_RSA_BITS} are required")
        return Algorithm.RSA_SHA256
    if isinstance(key.curve, ec.SECP256R1):
        return Algorithm.ECDSA_P256_SHA256
    raise ConfigError(f"{where}: elliptic curve {key.curve.name} is not supported (P-256 only)")


@dataclass(frozen=True, slots=True)
class SoftwareSigner:
    """Signs with a private key held in memory (loaded from an encrypted PEM file)."""

    private_key: PrivateKey
    key_id: str
    algorithm: Algorithm

    @classmethod
    def from_key(cls, key: PrivateKey) -> SoftwareSigner:
        """A signer over a key object already in memory."""
        return cls(key, public_key_id(key.public_key()), _algorithm_of(key, "private key"))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None, *, where: str = "private key",
                 allow_unencrypted: bool = False) -> SoftwareSigner:
        """Load an encrypted PKCS#8 PEM key; `where` names the file in errors.

        Raises:
            ConfigError: wrong password, not a key, unencrypted, or an unsupported key type.
        """
        if b"ENCRYPTED" not in pem and not allow_unencrypted:
            raise ConfigError(f"{where}: the private key is not encrypted; "
                              "store it as an encrypted PKCS#8 PEM")
        try:
            key = serialization.load_pem_private_key(pem, password=password or None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigError(f"{where}: cannot load the private key "
                              "(wrong password, or not a PEM private key)") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{where}: {type(key).__name__} keys are not supported")
        return cls.from_key(key)

    def sign(self, data: bytes) -> bytes:
        """PKCS#1 v1.5 (RSA) or DER-encoded ECDSA signature over SHA-256(data)."""
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:
        return f"SoftwareSigner({self.algorithm}, key_id={self.key_id[:16]}…)"


@dataclass(frozen=True, slots=True)
class SoftwareVerifier:
    """Checks RSA-SHA256 or ECDSA-P256-SHA256 signatures made by one key."""

    public_key: PublicKey
    key_id: str
    algorithm: Algorithm

    @classmethod
    def from_key(cls, key: PublicKey) -> SoftwareVerifier:
        """A verifier over a public key object."""
        return cls(key, public_key_id(key), _algorithm_of(key, "public key"))

    @classmethod
    def from_public_pem(cls, pem: bytes, *, where: str = "public key") -> SoftwareVerifier:
        """A verifier over a PEM SubjectPublicKeyInfo."""
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ConfigError(f"{where}: not a PEM public key") from exc
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ConfigError(f"{where}: {type(key).__name__} keys are not supported")
        return cls.from_key(key)

    @classmethod
    def from_certificate(cls, cert: x509.Certificate | bytes) -> SoftwareVerifier:
        """A verifier over the public key of a certificate (PEM bytes or loaded).

        This checks no chain, validity or revocation: `crypto.pki.validate_path` does.
        """
        if isinstance(cert, bytes):
            try:
                cert = x509.load_pem_x509_certificate(cert)
            except ValueError as exc:
                raise ConfigError("certificate: not a PEM X.509 certificate") from exc
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ConfigError(f"certificate {cert.serial_number:x}: "
                              f"{type(key).__name__} keys are not supported")
        return cls.from_key(key)

    def verify(self, data: bytes, signature: bytes) -> None:
        """Return if `signature` holds over `data`; raise `SignatureInvalid` if not."""
        try:
            if isinstance(self.public_key, rsa.RSAPublicKey):
                self.public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                self.public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid(f"{self.algorithm} signature does not verify for key "
                                   f"{self.key_id[:16]}") from exc
