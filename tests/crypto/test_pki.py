"""A-04 / I-10: certificate path validation — chain, validity period, revocation (CRL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from bankgate.crypto.pki import (
    CertificateRefused,
    TestPki,
    Usage,
    issue_certificate,
    issue_test_pki,
    load_certificate,
    validate_path,
    write_crl,
)

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def pki(tmp_path: Path) -> TestPki:
    return issue_test_pki(tmp_path / "pki")


def _cert(pki: TestPki, name: str, start: dt.datetime, end: dt.datetime,
          usage: Usage = Usage.CLIENT) -> x509.Certificate:
    path, _ = issue_certificate(pki, name, usage=usage, not_before=start, not_after=end,
                                hosts=("127.0.0.1",) if usage is Usage.SERVER else ())
    return load_certificate(path)


def test_the_issued_client_and_server_certificates_validate(pki: TestPki) -> None:
    ca = load_certificate(pki.ca_cert)
    validate_path(load_certificate(pki.client_cert), trusted=[ca], usage=Usage.CLIENT)
    validate_path(load_certificate(pki.server_cert), trusted=[ca], usage=Usage.SERVER,
                  host="127.0.0.1")


def test_a04_an_expired_certificate_is_refused_saying_so(pki: TestPki) -> None:
    cert = _cert(pki, "expired", NOW - 30 * DAY, NOW - DAY)
    with pytest.raises(CertificateRefused, match=r"'expired' .* expired on"):
        validate_path(cert, trusted=[load_certificate(pki.ca_cert)], usage=Usage.CLIENT)


def test_a04_a_certificate_not_yet_valid_is_refused_saying_so(pki: TestPki) -> None:
    cert = _cert(pki, "future", NOW + DAY, NOW + 30 * DAY)
    with pytest.raises(CertificateRefused, match="is not yet valid"):
        validate_path(cert, trusted=[load_certificate(pki.ca_cert)])


def test_i10_a_certificate_that_expires_during_a_run_is_refused_from_then_on(
        pki: TestPki) -> None:
    cert = _cert(pki, "short", NOW - DAY, NOW + dt.timedelta(hours=1))
    ca = load_certificate(pki.ca_cert)
    validate_path(cert, trusted=[ca], at=NOW)
    with pytest.raises(CertificateRefused, match="expired"):
        validate_path(cert, trusted=[ca], at=NOW + dt.timedelta(hours=2))


def test_a04_a_certificate_from_another_ca_or_self_signed_is_untrusted(
        pki: TestPki, tmp_path: Path) -> None:
    other = issue_test_pki(tmp_path / "other")
    with pytest.raises(CertificateRefused, match=r"untrusted.*does not chain"):
        validate_path(load_certificate(other.client_cert),
                      trusted=[load_certificate(pki.ca_cert)])
    with pytest.raises(CertificateRefused, match="untrusted"):
        validate_path(load_certificate(other.ca_cert), trusted=[load_certificate(pki.ca_cert)])


def test_a04_a_revoked_certificate_is_refused_with_its_revocation_date(pki: TestPki) -> None:
    client = load_certificate(pki.client_cert)
    crl = x509.load_pem_x509_crl(write_crl(pki, [client]).read_bytes())
    with pytest.raises(CertificateRefused, match="was revoked on"):
        validate_path(client, trusted=[load_certificate(pki.ca_cert)], crls=[crl],
                      usage=Usage.CLIENT)
    validate_path(load_certificate(pki.server_cert), trusted=[load_certificate(pki.ca_cert)],
                  crls=[crl], usage=Usage.SERVER, host="127.0.0.1", require_crl=True)


def test_a04_a_crl_signed_by_another_ca_revokes_nothing_and_a_stale_one_is_no_crl(
        pki: TestPki, tmp_path: Path) -> None:
    client = load_certificate(pki.client_cert)
    other = issue_test_pki(tmp_path / "other")
    forged = x509.load_pem_x509_crl(write_crl(other, [client]).read_bytes())
    ca = load_certificate(pki.ca_cert)
    validate_path(client, trusted=[ca], crls=[forged])
    with pytest.raises(CertificateRefused, match=r"no current CRL.*revocation unknown"):
        validate_path(client, trusted=[ca], crls=[forged], require_crl=True)
    stale = x509.load_pem_x509_crl(write_crl(pki, [], now=NOW - 30 * DAY).read_bytes())
    with pytest.raises(CertificateRefused, match="revocation unknown"):
        validate_path(client, trusted=[ca], crls=[stale], require_crl=True)


def test_a04_wrong_usage_or_host_is_untrusted(pki: TestPki) -> None:
    ca = load_certificate(pki.ca_cert)
    with pytest.raises(CertificateRefused, match="untrusted for server use"):
        validate_path(load_certificate(pki.client_cert), trusted=[ca], usage=Usage.SERVER,
                      host="127.0.0.1")
    with pytest.raises(CertificateRefused, match="untrusted for server use"):
        validate_path(load_certificate(pki.server_cert), trusted=[ca], usage=Usage.SERVER,
                      host="bank.example")


def test_issuing_the_test_pki_again_keeps_the_valid_files(pki: TestPki) -> None:
    before = pki.client_cert.read_bytes()
    assert issue_test_pki(pki.directory).client_cert.read_bytes() == before
