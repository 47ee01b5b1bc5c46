"""The host API's signed messages (crypto/signed_http.py), field by field, per algorithm.

A-01: every signed element, changed after signing, breaks the signature; A-02: a nonce is
refused the second time within its TTL; I-07: the window's edges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bankgate.crypto.keyfiles import load_signer, load_verifier
from bankgate.crypto.pki import issue_test_pki
from bankgate.crypto.signed_http import (
    ALGORITHM,
    DIGEST,
    KEY_ID,
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    AuthFailure,
    NonceCache,
    SignatureRefused,
    StaleOrReplayed,
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.testkeys import issue_signing_key

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BODY = b'{"accounts": ["6222020200001000001"]}'
TARGET = "/icbc/v1/balances"


class Headers(dict):  # type: ignore[type-arg]
    """Case-insensitive lookup, as HTTP libraries give it."""

    def get(self, name: str, default: Any = None) -> Any:
        return {k.lower(): v for k, v in self.items()}.get(name.lower(), default)


@pytest.fixture(scope="module", params=list(Algorithm))
def keys(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    pki = issue_test_pki(tmp_path_factory.mktemp("signed-http"))
    files = issue_signing_key(pki, "party", request.param)
    signer = load_signer(files.key_file, files.algorithm, password_file=files.password_file,
                         where="test")
    verifier = load_verifier(files.public_file, files.algorithm, where="test")
    return signer, {verifier.key_id: verifier}


def _verify(headers: dict[str, str], verifiers: Any, *, body: bytes = BODY,
            method: str = "POST", target: str = TARGET, now: datetime = NOW) -> Any:
    return verify_request(Headers(headers), method=method, target=target, body=body,
                          verifiers=verifiers, now=now)


def test_a_signed_request_verifies_and_says_who_signed_it(keys):
    signer, verifiers = keys
    headers = sign_request(signer, method="POST", target=TARGET, body=BODY, now=NOW)
    message = _verify(headers, verifiers)
    assert (message.key_id, message.algorithm, message.nonce) == (
        signer.key_id, signer.algorithm, headers[NONCE])
    assert headers[DIGEST].startswith("sm3=" if signer.algorithm is Algorithm.SM2_SM3
                                      else "sha-256=")


@pytest.mark.parametrize(("change", "failure"), [
    ({"method": "PUT"}, AuthFailure.BAD_SIGNATURE),
    ({"target": "/icbc/v1/payments/batches"}, AuthFailure.BAD_SIGNATURE),
    ({"body": BODY + b" "}, AuthFailure.DIGEST_MISMATCH),
    ({NONCE: "0123456789abcdef0123456789abcdef"}, AuthFailure.BAD_SIGNATURE),
    ({TIMESTAMP: str(int(NOW.timestamp()) + 1)}, AuthFailure.BAD_SIGNATURE),
    ({KEY_ID: "f" * 64}, AuthFailure.UNKNOWN_KEY),
    ({SIGNATURE: "not base64!"}, AuthFailure.MALFORMED),
    ({TIMESTAMP: "soon"}, AuthFailure.MALFORMED),
    ({NONCE: "short"}, AuthFailure.MALFORMED),
    ({ALGORITHM: "HS256"}, AuthFailure.MALFORMED),
])
def test_A01_any_signed_element_changed_after_signing_is_refused(keys, change, failure):
    signer, verifiers = keys
    headers = sign_request(signer, method="POST", target=TARGET, body=BODY, now=NOW)
    change = dict(change)  # parametrize shares the dict between algorithms
    place = {k: change.pop(k) for k in ("method", "target", "body") if k in change}
    with pytest.raises(SignatureRefused) as refused:
        _verify({**headers, **change}, verifiers, **place)
    assert refused.value.failure is failure


def test_A01_a_digest_header_recomputed_for_a_new_body_still_breaks_the_signature(keys):
    from bankgate.crypto.signed_http import content_digest

    signer, verifiers = keys
    headers = sign_request(signer, method="POST", target=TARGET, body=BODY, now=NOW)
    other = BODY.replace(b"1000001", b"1000002")
    with pytest.raises(SignatureRefused) as refused:
        _verify({**headers, DIGEST: content_digest(other, signer.algorithm)}, verifiers,
                body=other)
    assert refused.value.failure is AuthFailure.BAD_SIGNATURE


def test_a_claimed_algorithm_other_than_the_keys_is_refused(keys):
    signer, verifiers = keys
    headers = sign_request(signer, method="POST", target=TARGET, body=BODY, now=NOW)
    other = next(a for a in Algorithm if a is not signer.algorithm)
    with pytest.raises(SignatureRefused) as refused:
        _verify({**headers, ALGORITHM: other.value}, verifiers)
    assert refused.value.failure is AuthFailure.WRONG_ALGORITHM


@pytest.mark.parametrize(("skew_s", "accepted"), [(-300, True), (300, True), (-301, False),
                                                  (301, False)])
def test_I07_the_window_is_300_seconds_either_side(keys, skew_s, accepted):
    signer, verifiers = keys
    headers = sign_request(signer, method="POST", target=TARGET, body=BODY,
                           now=NOW + timedelta(seconds=skew_s))
    if accepted:
        assert _verify(headers, verifiers)
        return
    with pytest.raises(StaleOrReplayed, match="clock skew") as refused:
        _verify(headers, verifiers)
    assert refused.value.failure is AuthFailure.CLOCK_SKEW


def test_A02_a_nonce_is_refused_the_second_time_within_its_ttl(keys):
    signer, verifiers = keys
    cache = NonceCache()
    headers = sign_request(signer, method="POST", target=TARGET, body=BODY, now=NOW)
    cache.remember(_verify(headers, verifiers), now=NOW)
    with pytest.raises(StaleOrReplayed) as replayed:
        cache.remember(_verify(headers, verifiers), now=NOW + timedelta(seconds=299))
    assert replayed.value.failure is AuthFailure.REPLAYED
    with pytest.raises(ValueError, match="at least the window"):
        NonceCache(ttl_s=60)


def test_an_answer_is_bound_to_its_request_nonce_status_and_body(keys):
    signer, verifiers = keys
    headers = sign_response(signer, status=200, method="POST", target=TARGET,
                            request_nonce="a" * 32, body=b"{}", now=NOW)
    verify_response(Headers(headers), status=200, method="POST", target=TARGET,
                    request_nonce="a" * 32, body=b"{}", verifiers=verifiers)
    for status, nonce, body in ((500, "a" * 32, b"{}"), (200, "b" * 32, b"{}"),
                                (200, "a" * 32, b"[]")):
        with pytest.raises(SignatureRefused):
            verify_response(Headers(headers), status=status, method="POST", target=TARGET,
                            request_nonce=nonce, body=body, verifiers=verifiers)
    with pytest.raises(SignatureRefused) as unsigned:
        verify_response(Headers({}), status=200, method="POST", target=TARGET,
                        request_nonce="a" * 32, body=b"{}", verifiers=verifiers)
    assert unsigned.value.failure is AuthFailure.MISSING


def test_signing_keys_are_reused_and_written_0600(tmp_path: Path):
    pki = issue_test_pki(tmp_path)
    first = issue_signing_key(pki, "k", Algorithm.SM2_SM3)
    again = issue_signing_key(pki, "k", Algorithm.SM2_SM3)
    assert first == again and b"ENCRYPTED" in first.key_file.read_bytes()
    assert first.key_file.stat().st_mode & 0o777 == 0o600
    assert first.password_file.stat().st_mode & 0o777 == 0o600
