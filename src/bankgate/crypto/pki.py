"""A test PKI: a private CA and the server and client certificates it issues.

For the sandbox banks and the gateway on one machine: EC P-256 keys, SHA-256 signatures,
SAN with IP addresses and DNS names, server certificates for serverAuth and client
certificates for clientAuth (RFC 5280 §4.2.1.12). Files are PEM; keys are written 0600.
Issuing is idempotent: valid files already in the directory are reused.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bankgate.atomic import write_atomically
from bankgate.crypto.certs import Usage, issue_crl, validate_path
from bankgate.errors import CertificateRefused, ConfigError

__all__ = ["CertificateRefused", "TestPki", "Usage", "client_ssl_context", "issue_certificate",
           "issue_crl", "issue_test_pki", "load_certificate", "server_ssl_context",
           "validate_path", "write_crl"]

CA_VALIDITY: Final = dt.timedelta(days=3650)
LEAF_VALIDITY: Final = dt.timedelta(days=825)
#: A certificate expiring sooner than this is issued again.
RENEW_BEFORE: Final = dt.timedelta(days=7)
_ORG: Final = "bankgate test PKI"


@dataclass(frozen=True, slots=True, kw_only=True)
class TestPki:
    """Paths of the test CA and the certificates and keys it issued (PEM files)."""

    __test__ = False  # not a pytest test class despite the name

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _paths(directory: Path) -> TestPki:
    return TestPki(directory=directory, ca_cert=directory / "ca.pem",
                   ca_key=directory / "ca-key.pem", server_cert=directory / "server.pem",
                   server_key=directory / "server-key.pem", client_cert=directory / "client.pem",
                   client_key=directory / "client-key.pem")


def issue_test_pki(directory: Path, *,
                   hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> TestPki:
    """The test PKI in `directory`, reusing valid files and issuing whatever is missing."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = _paths(directory)
    now = dt.datetime.now(dt.UTC)
    ca = _load_pair(pki.ca_cert, pki.ca_key, now)
    if ca is None or not _is_ca(ca[0]):
        ca = _issue_ca(now)
        _write_pair(pki.ca_cert, pki.ca_key, *ca)
    server = _load_pair(pki.server_cert, pki.server_key, now)
    if server is None or not _fits(server[0], ca[0], ExtendedKeyUsageOID.SERVER_AUTH, hosts):
        server = _issue_leaf(ca, now, "bankgate sandbox server", hosts,
                             ExtendedKeyUsageOID.SERVER_AUTH)
        _write_pair(pki.server_cert, pki.server_key, *server)
    client = _load_pair(pki.client_cert, pki.client_key, now)
    if client is None or not _fits(client[0], ca[0], ExtendedKeyUsageOID.CLIENT_AUTH, ()):
        client = _issue_leaf(ca, now, "bankgate gateway client", (),
                             ExtendedKeyUsageOID.CLIENT_AUTH)
        _write_pair(pki.client_cert, pki.client_key, *client)
    return pki


def server_ssl_context(pki: TestPki, *, require_client_cert: bool = False) -> ssl.SSLContext:
    """A TLS ≥ 1.2 server context; client certificates are verified against the test CA.

    Without `require_client_cert` a client may present none (mutual TLS comes with issue 5),
    but one that it presents must chain to the CA.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(cafile=pki.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def client_ssl_context(pki: TestPki, *, with_client_cert: bool = True) -> ssl.SSLContext:
    """A TLS ≥ 1.2 client context that trusts only the test CA and checks host names."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca_cert))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if with_client_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


_Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def load_certificate(path: Path) -> x509.Certificate:
    """A PEM certificate from `path`; `ConfigError` naming the file if it is not one."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable PEM certificate") from exc


def issue_certificate(pki: TestPki, name: str, *, usage: Usage = Usage.CLIENT,
                      not_before: dt.datetime, not_after: dt.datetime,
                      hosts: Sequence[str] = ()) -> tuple[Path, Path]:
    """Another leaf from the test CA with the given validity (expired, not yet valid, …).

    Written as NAME.pem and NAME-key.pem in the PKI directory; returns both paths.
    """
    ca_cert = load_certificate(pki.ca_cert)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    eku = {Usage.CLIENT: ExtendedKeyUsageOID.CLIENT_AUTH,
           Usage.SERVER: ExtendedKeyUsageOID.SERVER_AUTH,
           Usage.SIGNING: ExtendedKeyUsageOID.CLIENT_AUTH}[usage]
    cert, key = _issue_leaf((ca_cert, ca_key), not_before + dt.timedelta(minutes=5), name,
                            hosts, eku)
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
               .public_key(key.public_key()).serial_number(cert.serial_number)
               .not_valid_before(not_before).not_valid_after(not_after))
    for extension in cert.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    cert = builder.sign(ca_key, hashes.SHA256())
    paths = pki.directory / f"{name}.pem", pki.directory / f"{name}-key.pem"
    _write_pair(*paths, cert, key)
    return paths


def write_crl(pki: TestPki, revoked: Sequence[x509.Certificate], *,
              now: dt.datetime | None = None) -> Path:
    """The test CA's CRL listing `revoked`, written as crl.pem in the PKI directory."""
    ca_cert = load_certificate(pki.ca_cert)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = now or dt.datetime.now(dt.UTC)
    crl = issue_crl(ca_cert, ca_key, [(c.serial_number, now - dt.timedelta(minutes=1))
                                      for c in revoked], now=now)
    path = pki.directory / "crl.pem"
    write_atomically(path, crl.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return path


def _load_pair(cert_path: Path, key_path: Path, now: dt.datetime) -> _Pair | None:
    """The certificate and key if both exist, match, and stay valid long enough."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.public_key() != key.public_key():
        return None
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc - RENEW_BEFORE:
        return None
    return cert, key


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _fits(cert: x509.Certificate, ca: x509.Certificate, usage: x509.ObjectIdentifier,
          hosts: Sequence[str]) -> bool:
    """Issued by this CA, for this usage, naming every host."""
    try:
        cert.verify_directly_issued_by(ca)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    if usage not in usages:
        return False
    present = set(names)
    return all(name in present for name in _general_names(hosts))


def _general_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue_ca(now: dt.datetime) -> _Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("bankgate test CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue_leaf(ca: _Pair, now: dt.datetime, common_name: str, hosts: Sequence[str],
                usage: x509.ObjectIdentifier) -> _Pair:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    names = _general_names(hosts) or [x509.DNSName(common_name.replace(" ", "-"))]
    not_after = min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_agreement=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write_pair(cert_path: Path, key_path: Path, cert: x509.Certificate,
                key: ec.EllipticCurvePrivateKey) -> None:
    """Write key then certificate, each atomically (a reader never sees half a file)."""
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    write_atomically(key_path, key_pem, mode=0o600)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
