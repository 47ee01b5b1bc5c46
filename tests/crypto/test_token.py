"""PKCS#11 token signing against a real SoftHSM2 token (the USB Key, U盾).

A-12 (wrong PIN, gateway lockout that survives restarts), I-11 (token gone mid-run), K-11
(a signer killed inside its session), INV-7 (the PIN never in an error or a log).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pkcs11 import Attribute
from pkcs11.exceptions import AttributeSensitive, AttributeTypeInvalid
from sqlalchemy import Engine

from bankgate.crypto.pin import PinGuard
from bankgate.crypto.signer import Algorithm, Signer
from bankgate.crypto.software import SoftwareVerifier
from bankgate.crypto.token import TokenSession, open_token
from bankgate.errors import SignatureInvalid, TokenError
from bankgate.store import make_engine
from bankgate.store.security import SqlPinCounterStore
from tests.crypto.conftest import USER_PIN, SoftHsm

ALGORITHMS = [Algorithm.RSA_SHA256, Algorithm.ECDSA_P256_SHA256]


_ENGINES: list[Engine] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while _ENGINES:
        _ENGINES.pop().dispose()


def _engine(url: str) -> Engine:
    _ENGINES.append(make_engine(url))
    return _ENGINES[-1]


def _guard(url: str, max_failures: int = 3) -> PinGuard:
    return PinGuard(SqlPinCounterStore(_engine(url)), max_failures=max_failures)


def _session(softhsm: SoftHsm, label: str, guard: PinGuard, pin: str = USER_PIN) -> TokenSession:
    return open_token(softhsm.module, label, pin, guard=guard)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_key_generated_in_the_token_signs_and_the_public_key_verifies(
        softhsm: SoftHsm, sqlite_url: str, algorithm: Algorithm) -> None:
    label = softhsm.init_token()
    with _session(softhsm, label, _guard(sqlite_url)) as session:
        signer: Signer = session.generate_key("pay", algorithm)
        signature = signer.sign(b"batch manifest")
        verifier = SoftwareVerifier.from_key(session.signer("pay").public_key)
    assert signer.algorithm is verifier.algorithm is algorithm
    assert signer.key_id == verifier.key_id
    verifier.verify(b"batch manifest", signature)
    with pytest.raises(SignatureInvalid):
        verifier.verify(b"another manifest", signature)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_private_key_is_sensitive_and_cannot_be_read_out(
        softhsm: SoftHsm, sqlite_url: str, algorithm: Algorithm) -> None:
    label = softhsm.init_token()
    with _session(softhsm, label, _guard(sqlite_url)) as session:
        private = session.generate_key("pay", algorithm).private
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.SENSITIVE] is True
        with pytest.raises((AttributeSensitive, AttributeTypeInvalid)):
            private[Attribute.PRIVATE_EXPONENT if algorithm is Algorithm.RSA_SHA256
                    else Attribute.VALUE]


def test_a12_a_wrong_pin_is_refused_and_counted_without_the_pin_in_error_or_log(
        softhsm: SoftHsm, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    label = softhsm.init_token()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TokenError, match=r"wrong PIN \(2 attempt\(s\) left\)") as err:
        _session(softhsm, label, _guard(sqlite_url), pin="999111")
    assert "999111" not in str(err.value) and "999111" not in caplog.text
    assert USER_PIN not in caplog.text


def test_a12_the_gateway_locks_the_token_after_n_wrong_pins_across_a_restart(
        softhsm: SoftHsm, store_url: str) -> None:
    """SoftHSM never locks; bankgate's counter does, and it is in the store."""
    label = softhsm.init_token()
    for left in ("2 attempt", "1 attempt", "it is now locked"):
        with pytest.raises(TokenError, match=left):
            _session(softhsm, label, _guard(store_url), pin="000000")
    restarted = _guard(store_url)  # a new engine and guard: as after a process restart
    with pytest.raises(TokenError, match="locked after 3 wrong PINs"):
        _session(softhsm, label, restarted)  # even the right PIN is not tried
    token_id = f"{label}#{_serial(softhsm, label)}"
    restarted.unlock(token_id)
    with _session(softhsm, label, restarted) as session:
        assert session.token_id == token_id


def test_a_correct_pin_resets_the_count(softhsm: SoftHsm, sqlite_url: str) -> None:
    label = softhsm.init_token()
    store = SqlPinCounterStore(_engine(sqlite_url))
    guard = PinGuard(store, max_failures=3)
    for _ in range(2):
        with pytest.raises(TokenError, match="wrong PIN"):
            _session(softhsm, label, guard, pin="000000")
    with _session(softhsm, label, guard) as session:
        assert store.failures(session.token_id) == 0
    with pytest.raises(TokenError, match="2 attempt"):
        _session(softhsm, label, guard, pin="000000")


def test_i11_a_token_deleted_mid_run_refuses_to_sign(softhsm: SoftHsm, sqlite_url: str) -> None:
    before = softhsm.token_dirs()
    label = softhsm.init_token()
    (token_dir,) = softhsm.token_dirs() - before
    session = _session(softhsm, label, _guard(sqlite_url))
    signer = session.generate_key("pay", Algorithm.RSA_SHA256)
    assert signer.sign(b"first order")
    shutil.rmtree(token_dir)
    with pytest.raises(TokenError, match="token absent, removed or refusing"):
        signer.sign(b"second order")
    session.close()  # closing a session on a vanished token is not an error
    with pytest.raises(TokenError, match=repr(label)):
        _session(softhsm, label, _guard(sqlite_url))


def test_an_absent_token_or_key_is_a_token_error(softhsm: SoftHsm, sqlite_url: str) -> None:
    with pytest.raises(TokenError, match="'no-such-token'"):
        _session(softhsm, "no-such-token", _guard(sqlite_url))
    label = softhsm.init_token()
    with _session(softhsm, label, _guard(sqlite_url)) as session, pytest.raises(
            TokenError, match="no single key pair labelled 'missing'"):
        session.signer("missing")


_KILLED_SIGNER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from bankgate.crypto.pin import PinGuard
    from bankgate.crypto.token import open_token
    from bankgate.store import make_engine
    from bankgate.store.security import SqlPinCounterStore
    module, label, pin, url = sys.argv[1:]
    guard = PinGuard(SqlPinCounterStore(make_engine(url)))
    signer = open_token(Path(module), label, pin, guard=guard).signer("pay")
    print("signing", flush=True)
    while True:
        signer.sign(b"payload")
""")


def test_k11_a_signer_killed_inside_its_session_leaves_the_pin_count_and_a_new_session_signs(
        softhsm: SoftHsm, sqlite_url: str) -> None:
    label = softhsm.init_token()
    guard = _guard(sqlite_url)
    with _session(softhsm, label, guard) as session:
        session.generate_key("pay", Algorithm.ECDSA_P256_SHA256)
        token_id = session.token_id
    child = subprocess.Popen([sys.executable, "-c", _KILLED_SIGNER, str(softhsm.module), label,
                              USER_PIN, sqlite_url], stdout=subprocess.PIPE,
                             env={**os.environ, "SOFTHSM2_CONF": str(softhsm.conf)})
    assert child.stdout is not None and child.stdout.readline() == b"signing\n"
    time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert SqlPinCounterStore(_engine(sqlite_url)).failures(token_id) == 0
    with _session(softhsm, label, guard) as session:
        signer = session.signer("pay")
        SoftwareVerifier.from_key(signer.public_key).verify(b"payload", signer.sign(b"payload"))


def _serial(softhsm: SoftHsm, label: str) -> str:
    import pkcs11

    token = pkcs11.lib(str(softhsm.module)).get_token(token_label=label)
    return token.serial.decode().strip()


def test_the_token_module_must_exist(sqlite_url: str) -> None:
    from bankgate.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        open_token(Path("/nonexistent/libpkcs11.so"), "x", "1234", guard=_guard(sqlite_url))
