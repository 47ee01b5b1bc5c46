"""Software keys behind the Signer/Verifier protocol: RSA-SHA256 and ECDSA P-256."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.x509.oid import NameOID

from bankgate.crypto.signer import Algorithm, Signer, Verifier
from bankgate.crypto.software import (
    SoftwareSigner,
    SoftwareVerifier,
    encrypted_pem,
    generate_private_key,
)
from bankgate.errors import ConfigError, SignatureInvalid

ALGORITHMS = [Algorithm.RSA_SHA256, Algorithm.ECDSA_P256_SHA256]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_signature_from_an_encrypted_pem_verifies_with_the_public_key(
        algorithm: Algorithm) -> None:
    key = generate_private_key(algorithm)
    signer: Signer = SoftwareSigner.from_pem(encrypted_pem(key, b"s3cret"), b"s3cret")
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    verifier: Verifier = SoftwareVerifier.from_public_pem(public_pem)
    assert signer.algorithm is verifier.algorithm is algorithm
    assert signer.key_id == verifier.key_id
    verifier.verify(b"POST /payments", signer.sign(b"POST /payments"))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_signature_over_other_data_or_by_another_key_is_refused(algorithm: Algorithm) -> None:
    signer = SoftwareSigner.from_key(generate_private_key(algorithm))
    other = SoftwareVerifier.from_key(generate_private_key(algorithm).public_key())
    mine = SoftwareVerifier.from_key(signer.private_key.public_key())
    signature = signer.sign(b"amount=100.00")
    with pytest.raises(SignatureInvalid, match=str(algorithm)):
        mine.verify(b"amount=900.00", signature)
    with pytest.raises(SignatureInvalid):
        other.verify(b"amount=100.00", signature)
    with pytest.raises(SignatureInvalid):
        mine.verify(b"amount=100.00", b"\x30\x00")


def test_the_verifier_can_come_from_a_certificate() -> None:
    key = generate_private_key(Algorithm.ECDSA_P256_SHA256)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bank signing key")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    verifier = SoftwareVerifier.from_certificate(cert.public_bytes(Encoding.PEM))
    verifier.verify(b"x", SoftwareSigner.from_key(key).sign(b"x"))


def test_a_wrong_password_is_one_clear_error_without_the_password() -> None:
    pem = encrypted_pem(generate_private_key(Algorithm.RSA_SHA256), b"right-password")
    with pytest.raises(ConfigError, match=r"keys/bank\.pem: cannot load") as err:
        SoftwareSigner.from_pem(pem, b"wrong-password", where="keys/bank.pem")
    assert "right-password" not in str(err.value) and "wrong-password" not in str(err.value)


def test_an_unencrypted_key_is_refused_unless_allowed() -> None:
    key = generate_private_key(Algorithm.ECDSA_P256_SHA256)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(ConfigError, match="not encrypted"):
        SoftwareSigner.from_pem(pem, None)
    assert SoftwareSigner.from_pem(pem, None, allow_unencrypted=True).algorithm is (
        Algorithm.ECDSA_P256_SHA256)


def test_short_rsa_keys_and_other_curves_are_refused() -> None:
    with pytest.raises(ConfigError, match="1024 bits"):
        SoftwareSigner.from_key(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(ConfigError, match="secp384r1"):
        SoftwareSigner.from_key(ec.generate_private_key(ec.SECP384R1()))


def test_the_repr_shows_no_key_material() -> None:
    signer = SoftwareSigner.from_key(generate_private_key(Algorithm.ECDSA_P256_SHA256))
    assert "PrivateKey" not in repr(signer) and signer.key_id[:16] in repr(signer)
