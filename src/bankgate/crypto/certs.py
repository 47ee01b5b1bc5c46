"""Certificate path validation with revocation, and CRL issuing, for the test PKI and banks.

`validate_path` refuses with `CertificateRefused` naming why, checked in this order so the
message is the one a person needs: not yet valid, expired (the leaf, at `at`), untrusted (no
chain to a trusted CA, or RFC 5280 policy — key usage, EKU, basic constraints — as checked by
`cryptography.x509.verification`), revoked (in a CRL signed by the issuer), or revocation
unknown (no current CRL from the issuer where one is required; fail closed).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification

from bankgate.errors import CertificateRefused

__all__ = ["Usage", "days_left", "issue_crl", "validate_path"]


class Usage(StrEnum):
    """What the certificate is presented for (its extended key usage)."""

    CLIENT = "client"  # TLS client authentication (id-kp-clientAuth)
    SERVER = "server"  # TLS server authentication (id-kp-serverAuth), with a host name
    SIGNING = "signing"  # document or request signing: chain, validity and CRL only


def issue_crl(issuer: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey |
              rsa.RSAPrivateKey, revoked: Sequence[tuple[int, dt.datetime]], *,
              now: dt.datetime | None = None,
              next_update: dt.timedelta = dt.timedelta(days=7)) -> x509.CertificateRevocationList:
    """A CRL from `issuer` listing `(serial number, revocation time)` pairs."""
    now = now or dt.datetime.now(dt.UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
               .last_update(now - dt.timedelta(minutes=5)).next_update(now + next_update))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(issuer_key, hashes.SHA256())


def days_left(cert: x509.Certificate, now: dt.datetime) -> float:
    """Days until the certificate expires (negative once it has)."""
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


def validate_path(cert: x509.Certificate, *, trusted: Sequence[x509.Certificate],
                  intermediates: Sequence[x509.Certificate] = (),
                  crls: Sequence[x509.CertificateRevocationList] = (),
                  usage: Usage = Usage.SIGNING, host: str | None = None,
                  at: dt.datetime | None = None, require_crl: bool = False) -> None:
    """Return if `cert` chains to `trusted`, is valid at `at` and not revoked; else refuse.

    Raises:
        CertificateRefused: not yet valid, expired, untrusted, revoked or revocation unknown.
    """
    at = at or dt.datetime.now(dt.UTC)
    name = _describe(cert)
    if at < cert.not_valid_before_utc:
        raise CertificateRefused(f"certificate {name} is not yet valid (from "
                                 f"{cert.not_valid_before_utc.isoformat()})")
    if at > cert.not_valid_after_utc:
        raise CertificateRefused(f"certificate {name} expired on "
                                 f"{cert.not_valid_after_utc.isoformat()}")
    chain = _chain(cert, trusted, intermediates, at, name)
    if usage is not Usage.SIGNING:
        _check_policy(cert, trusted, intermediates, usage, host, at, name)
    for child, issuer in itertools.pairwise(chain):
        _check_revocation(child, issuer, crls, at, require_crl)


def _describe(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    common = str(names[0].value) if names else cert.subject.rfc4514_string()
    return f"{common!r} (serial {cert.serial_number:x})"


def _chain(cert: x509.Certificate, trusted: Sequence[x509.Certificate],
           intermediates: Sequence[x509.Certificate], at: dt.datetime,
           name: str) -> list[x509.Certificate]:
    """[cert, issuer, …, trust anchor], each signed by the next; untrusted if none."""
    chain, current = [cert], cert
    for _ in range(8):
        for anchor in trusted:
            if _issued_by(current, anchor):
                return [*chain, anchor]
        parent = next((c for c in intermediates if _issued_by(current, c)), None)
        if parent is None or not parent.not_valid_before_utc <= at <= parent.not_valid_after_utc:
            break
        chain.append(parent)
        current = parent
    raise CertificateRefused(f"certificate {name} is untrusted: issued by "
                             f"{cert.issuer.rfc4514_string()!r}, which does not chain to a "
                             "trusted CA")


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False  # another issuer's name, or its signature does not verify
    return True


def _check_policy(cert: x509.Certificate, trusted: Sequence[x509.Certificate],
                  intermediates: Sequence[x509.Certificate], usage: Usage, host: str | None,
                  at: dt.datetime, name: str) -> None:
    builder = verification.PolicyBuilder().store(verification.Store(list(trusted))).time(at)
    try:
        if usage is Usage.CLIENT:
            builder.build_client_verifier().verify(cert, list(intermediates))
        else:
            if not host:
                raise CertificateRefused(f"certificate {name}: a server certificate is "
                                         "checked against a host name")
            builder.build_server_verifier(_subject(host)).verify(cert, list(intermediates))
    except verification.VerificationError as exc:
        raise CertificateRefused(f"certificate {name} is untrusted for {usage} use: "
                                 f"{exc}") from exc


def _subject(host: str) -> x509.DNSName | x509.IPAddress:
    import ipaddress

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _check_revocation(cert: x509.Certificate, issuer: x509.Certificate,
                      crls: Sequence[x509.CertificateRevocationList], at: dt.datetime,
                      require_crl: bool) -> None:
    current = [crl for crl in crls if crl.issuer == issuer.subject
               and crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
               and crl.last_update_utc <= at
               and (crl.next_update_utc is None or at <= crl.next_update_utc)]
    for crl in current:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None and entry.revocation_date_utc <= at:
            raise CertificateRefused(f"certificate {_describe(cert)} was revoked on "
                                     f"{entry.revocation_date_utc.isoformat()}")
    if require_crl and not current:
        raise CertificateRefused(f"certificate {_describe(cert)}: no current CRL from "
                                 f"{issuer.subject.rfc4514_string()!r}; revocation unknown")
