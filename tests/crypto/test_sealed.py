"""Secrets at rest: AES-256-GCM and SM4-GCM envelopes under a key from env or file (INV-7)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from bankgate.crypto.sealed import SealAlgorithm, SecretBox, load_master_key
from bankgate.errors import ConfigError, SecurityError

KEY = bytes(range(32))


@pytest.mark.parametrize("algorithm", list(SealAlgorithm))
def test_a_sealed_secret_opens_with_the_same_key_and_context(algorithm: SealAlgorithm) -> None:
    box = SecretBox(KEY, algorithm)
    envelope = box.seal(b"icbc-password-123", "credential:icbc:password")
    assert envelope.startswith("bgs1.") and "icbc-password" not in envelope
    assert box.open(envelope, "credential:icbc:password") == b"icbc-password-123"
    assert box.seal(b"same", "c") != box.seal(b"same", "c")  # fresh nonce each time


@pytest.mark.parametrize("algorithm", list(SealAlgorithm))
def test_an_altered_envelope_or_another_context_does_not_open(algorithm: SealAlgorithm) -> None:
    box = SecretBox(KEY, algorithm)
    envelope = box.seal(b"6222020200112233445", "account:number")
    body = envelope[5:]
    flipped = "bgs1." + body[:-6] + ("A" if body[-6] != "A" else "B") + body[-5:]
    with pytest.raises(SecurityError, match="authentication failed"):
        box.open(flipped, "account:number")
    with pytest.raises(SecurityError, match="authentication failed"):
        box.open(envelope, "credential:icbc:password")


def test_a_box_with_another_key_says_so() -> None:
    envelope = SecretBox(KEY).seal(b"x")
    with pytest.raises(SecurityError, match="another master key"):
        SecretBox(secrets.token_bytes(32)).open(envelope)


def test_an_sm4_envelope_opens_in_a_box_configured_for_aes() -> None:
    """The envelope names its algorithm; the configured one is only for sealing."""
    envelope = SecretBox(KEY, SealAlgorithm.SM4_GCM).seal(b"x")
    assert SecretBox(KEY).open(envelope) == b"x"


def test_the_key_comes_from_the_environment_as_hex_or_base64_or_from_a_file(
        tmp_path: Path) -> None:
    assert load_master_key({"BANKGATE_SECRET_KEY": KEY.hex()}) == KEY
    import base64

    assert load_master_key({"BANKGATE_SECRET_KEY": base64.b64encode(KEY).decode()}) == KEY
    (tmp_path / "key").write_bytes(KEY)
    assert load_master_key({"BANKGATE_SECRET_KEY_FILE": str(tmp_path / "key")}) == KEY


@pytest.mark.parametrize(("env", "message"), [
    ({}, "no secret key"),
    ({"BANKGATE_SECRET_KEY": "abcd"}, "must be 32 bytes"),
    ({"BANKGATE_SECRET_KEY_FILE": "/nonexistent/key"}, "No such file"),
])
def test_a_missing_or_short_key_is_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_master_key(env)


def test_garbage_is_not_a_sealed_secret() -> None:
    with pytest.raises(SecurityError, match="bgs1"):
        SecretBox(KEY).open("plain text")
    with pytest.raises(SecurityError, match="unknown envelope version"):
        SecretBox(KEY).open("bgs1.AAAA")


def test_the_repr_shows_no_key() -> None:
    assert KEY.hex() not in repr(SecretBox(KEY))
