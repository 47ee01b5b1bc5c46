"""Signers and verifiers from files named in configuration: keys, certificates, passwords.

A private key file is an encrypted PKCS#8 PEM; its password sits in a file of its own
(`password_file`, first line, 0600), never in the configuration. That line may itself be
sealed (`bgs1.…`, made by `bankgate security seal-password`): it is then opened with the
master key (BANKGATE_SECRET_KEY / BANKGATE_SECRET_KEY_FILE), so no bank credential sits in
plain text on disk. A public side is either an
X.509 certificate (RSA, ECDSA) or a PEM public key (any algorithm, SM2 included: the
`cryptography` package has no SM2 certificates). The algorithm agreed with the bank is given,
and a key of another kind is refused (a bank cannot be talked into another algorithm).
"""

from __future__ import annotations

from pathlib import Path

from bankgate.crypto.sealed import SecretBox, load_master_key
from bankgate.crypto.signer import Algorithm, Signer, Verifier
from bankgate.errors import ConfigError, SecurityError

__all__ = ["PASSWORD_CONTEXT", "load_signer", "load_verifier", "read_password",
           "seal_password", "verifier_from_pem"]

#: The context sealed password files are bound to (an envelope of another field won't open).
PASSWORD_CONTEXT = "bankgate password file"  # noqa: S105 — a label, not a password


def read_password(path: Path, *, where: str) -> bytes:
    """The first line of a password file (without its line end)."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the password file {path}: "
                          f"{exc.strerror}") from exc
    if not lines or not lines[0]:
        raise ConfigError(f"{where}: the password file {path} is empty")
    if not lines[0].startswith(b"bgs1."):
        return lines[0]
    try:
        return SecretBox(load_master_key()).open(lines[0].decode("ascii"), PASSWORD_CONTEXT)
    except (SecurityError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: the sealed password in {path} does not open under the "
                          f"master key ({exc})") from exc


def seal_password(password: bytes) -> str:
    """A password file's line, sealed under the master key (for `read_password`)."""
    if not password or b"\n" in password or b"\r" in password:
        raise ConfigError("the password must be one non-empty line")
    return SecretBox(load_master_key()).seal(password, PASSWORD_CONTEXT)


def _read(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from exc


def load_signer(key_file: Path, algorithm: Algorithm, *, password_file: Path | None,
                where: str) -> Signer:
    """The signer over an encrypted private key file, checked to be of `algorithm`."""
    pem = _read(key_file, where)
    password = read_password(password_file, where=where) if password_file else None
    signer: Signer
    if algorithm is Algorithm.SM2_SM3:
        from bankgate.crypto.sm import Sm2Signer

        if password is None:
            raise ConfigError(f"{where}: an SM2 key needs its password file")
        signer = Sm2Signer.from_pem(pem, password, where=where)
    else:
        from bankgate.crypto.software import SoftwareSigner

        signer = SoftwareSigner.from_pem(pem, password, where=where)
    if signer.algorithm is not algorithm:
        raise ConfigError(f"{where}: the key signs {signer.algorithm.value}, but "
                          f"{algorithm.value} is configured")
    return signer


def load_verifier(path: Path, algorithm: Algorithm, *, where: str) -> Verifier:
    """The verifier over a certificate or public key file, checked to be of `algorithm`."""
    return verifier_from_pem(_read(path, where), algorithm, where=where)


def verifier_from_pem(pem: bytes, algorithm: Algorithm, *, where: str) -> Verifier:
    """The verifier over a PEM certificate or public key, checked to be of `algorithm`
    (SM2 keys included: an approver's SM2 key verifies approvals like an RSA or P-256 one)."""
    verifier: Verifier
    if algorithm is Algorithm.SM2_SM3:
        from bankgate.crypto.sm import Sm2Verifier

        verifier = Sm2Verifier.from_public_pem(pem, where=where)
    else:
        from bankgate.crypto.software import SoftwareVerifier

        if b"BEGIN CERTIFICATE" in pem:
            verifier = SoftwareVerifier.from_certificate(pem)
        else:
            verifier = SoftwareVerifier.from_public_pem(pem, where=where)
    if verifier.algorithm is not algorithm:
        raise ConfigError(f"{where}: the key verifies {verifier.algorithm.value}, but "
                          f"{algorithm.value} is configured")
    return verifier
