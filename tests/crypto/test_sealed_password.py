"""Bank credentials at rest: a key's password file may be sealed under the master key.

`bankgate security seal-password FILE` writes it (0600, never echoing the password); loading
the key opens it; under another master key it is one clear ConfigError naming the file.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bankgate.crypto.keyfiles import load_signer, read_password
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.software import encrypted_pem, generate_private_key
from bankgate.errors import ConfigError
from bankgate.services.tokens import seal_password_file

PASSWORD = b"icbc-key-pass-\xe5\xaf\x86"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "icbc.pem"
    path.write_bytes(encrypted_pem(generate_private_key(Algorithm.ECDSA_P256_SHA256), PASSWORD))
    return path


def test_a_sealed_password_file_holds_no_password_and_opens_the_key(
        tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    password_file = tmp_path / "icbc.pass"
    seal_password_file(password_file, PASSWORD)
    assert PASSWORD not in password_file.read_bytes()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert read_password(password_file, where="icbc key") == PASSWORD
    signer = load_signer(key_file, Algorithm.ECDSA_P256_SHA256, password_file=password_file,
                         where="icbc key")
    assert signer.sign(b"x")


def test_under_another_master_key_it_is_one_clear_error_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    password_file = tmp_path / "icbc.pass"
    seal_password_file(password_file, PASSWORD)
    monkeypatch.setenv("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    with pytest.raises(ConfigError, match=r"icbc key: the sealed password in .*icbc\.pass "
                                          r"does not open under the master key"):
        read_password(password_file, where="icbc key")


def test_a_plain_password_file_still_reads_as_before(tmp_path: Path) -> None:
    password_file = tmp_path / "plain.pass"
    password_file.write_bytes(PASSWORD + b"\n")
    assert read_password(password_file, where="k") == PASSWORD


def test_the_command_seals_what_it_reads_from_standard_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "BANKGATE_SECRET_KEY": secrets.token_hex(32)}
    password_file = tmp_path / "cmb.pass"
    done = subprocess.run([sys.executable, "-m", "bankgate", "security", "seal-password",
                           str(password_file)], input=b"s3cret-line\n", env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert b"s3cret" not in password_file.read_bytes() + done.stdout + done.stderr
    monkeypatch.setenv("BANKGATE_SECRET_KEY", env["BANKGATE_SECRET_KEY"])
    assert read_password(password_file, where="cmb key") == b"s3cret-line"
