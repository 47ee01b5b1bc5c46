"""Message-signing keys of the test PKI: one per sandbox bank and per gateway algorithm.

Beside the TLS certificates of `issue_test_pki`, each party that signs host API messages
gets a key of its algorithm: an encrypted PKCS#8 PEM (`<name>-key.pem`, 0600), its password
(`<name>.pass`, 0600), and its public side (`<name>.pem`): a certificate issued by the test
CA for RSA and ECDSA (key usage digitalSignature), a PEM public key for SM2 (`cryptography`
cannot issue SM2 certificates). Issuing is idempotent: files that still load are reused.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from bankgate.atomic import write_atomically
from bankgate.crypto.keyfiles import load_signer, load_verifier
from bankgate.crypto.pki import LEAF_VALIDITY, TestPki
from bankgate.crypto.signer import Algorithm
from bankgate.errors import ConfigError

__all__ = ["SigningKeyFiles", "issue_signing_key"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKeyFiles:
    """Where one signing key and its public side are."""

    __test__ = False

    algorithm: Algorithm
    key_file: Path
    password_file: Path
    public_file: Path  # a certificate (RSA, ECDSA) or a PEM public key (SM2)
    key_id: str


def issue_signing_key(pki: TestPki, name: str, algorithm: Algorithm) -> SigningKeyFiles:
    """The signing key `name` in the PKI's directory, reused when its files still load."""
    directory = pki.directory
    files = SigningKeyFiles(algorithm=algorithm, key_file=directory / f"{name}-key.pem",
                            password_file=directory / f"{name}.pass",
                            public_file=directory / f"{name}.pem", key_id="")
    key_id = _reusable(files, pki)
    if key_id is None:
        key_id = _issue(files, pki, name)
    return SigningKeyFiles(algorithm=algorithm, key_file=files.key_file,
                           password_file=files.password_file, public_file=files.public_file,
                           key_id=key_id)


def _reusable(files: SigningKeyFiles, pki: TestPki) -> str | None:
    """The key id if the files load, match and (for a certificate) chain to today's CA."""
    try:
        signer = load_signer(files.key_file, files.algorithm,
                             password_file=files.password_file, where=files.key_file.name)
        verifier = load_verifier(files.public_file, files.algorithm,
                                 where=files.public_file.name)
        pem = files.public_file.read_bytes()
        if b"BEGIN CERTIFICATE" in pem:
            cert = x509.load_pem_x509_certificate(pem)
            ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
            cert.verify_directly_issued_by(ca)
            if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=7):
                return None
    except (ConfigError, OSError, ValueError, TypeError, Exception):
        return None  # anything unusable is issued again
    return signer.key_id if signer.key_id == verifier.key_id else None


def _issue(files: SigningKeyFiles, pki: TestPki, name: str) -> str:
    password = secrets.token_hex(16).encode()
    write_atomically(files.password_file, password + b"\n", mode=0o600)
    if files.algorithm is Algorithm.SM2_SM3:
        from bankgate.crypto.sm import Sm2Signer, generate_sm2_key, sm2_encrypted_pem

        key = generate_sm2_key()
        write_atomically(files.key_file, sm2_encrypted_pem(key, password), mode=0o600)
        write_atomically(files.public_file, Sm2Signer(key).public_pem(), mode=0o644)
        return Sm2Signer(key).key_id
    from bankgate.crypto.software import (
        SoftwareSigner,
        encrypted_pem,
        generate_private_key,
    )

    soft = generate_private_key(files.algorithm)
    write_atomically(files.key_file, encrypted_pem(soft, password), mode=0o600)
    write_atomically(files.public_file, _certificate(pki, name, soft.public_key()), mode=0o644)
    return SoftwareSigner.from_key(soft).key_id


def _certificate(pki: TestPki, name: str, public_key: object) -> bytes:
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bankgate test PKI"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"bankgate signing {name}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(ca.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + LEAF_VALIDITY, ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM)
