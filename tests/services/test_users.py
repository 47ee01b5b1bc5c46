"""Users, passwords, sessions and API keys (A-11 lockout, A-18 constant-time compares)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from bankgate.domain.approvals import Approval
from bankgate.errors import AuthenticationFailed, DomainError
from bankgate.services import users
from bankgate.services.users import (
    authenticate_key,
    authenticate_token,
    create_api_client,
    login,
    set_roles,
)
from tests.control_world import PASSWORD, World, control_world


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    built = control_world(store_url, tmp_path)
    yield built
    built.app.close()


def _login(world: World, password: str, *, user: str = "anna", address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return login(uow=world.app.uow, username=user, password=password, address=address,
                 now=world.clock)


def test_a_user_logs_in_and_the_token_names_them(world: World) -> None:
    anna = world.person("anna", "approver")
    user, token = _login(world, PASSWORD)
    assert user.id == anna.user.id and token.startswith("bgs_")
    assert authenticate_token(uow=world.app.uow, token=token, now=world.clock).id == user.id
    with pytest.raises(AuthenticationFailed):
        authenticate_token(uow=world.app.uow, token=token[:-2] + "xx", now=world.clock)


def test_a11_ten_wrong_passwords_lock_the_account_for_thirty_minutes(world: World) -> None:
    world.person("anna", "approver")
    for _ in range(10):
        with pytest.raises(AuthenticationFailed, match="wrong username or password"):
            _login(world, "guess" * 3)
    with pytest.raises(AuthenticationFailed, match="user locked until"):
        _login(world, PASSWORD)  # the right password, while locked
    world.clock.tick(29 * 60)
    with pytest.raises(AuthenticationFailed, match="locked"):
        _login(world, PASSWORD, address="10.0.0.2")
    world.clock.tick(61)
    assert _login(world, PASSWORD)[0].username == "anna"
    with world.app.uow() as unit:
        assert unit.audit.count("login.failed") == 10
        assert unit.audit.count("login.refused") == 2


def test_a11_credential_stuffing_from_one_address_is_locked_across_usernames(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # An unknown name is checked against a dummy hash (A-18: same work as a known one), and
    # argon2 reads its cost from the hash: 50 at the product's cost were 8.3 s of this
    # test's 9-11 s (0.16 s each). A cheap dummy keeps every check and every count; the cost is not
    # what A-11 is about.
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    dummy = cheap.hash("not a password of anyone")
    monkeypatch.setattr(users, "_dummy_hash", lambda: dummy)
    world.person("anna", "approver")
    for n in range(50):
        with pytest.raises(AuthenticationFailed):
            _login(world, "wrong password!", user=f"victim{n}", address="10.9.9.9")
    with pytest.raises(AuthenticationFailed, match="ip locked"):
        _login(world, PASSWORD, address="10.9.9.9")
    assert _login(world, PASSWORD, address="10.0.0.1")[0].username == "anna"


def test_a_disabled_user_can_no_longer_log_in_or_use_a_session(world: World) -> None:
    world.person("anna", "approver")
    _, token = _login(world, PASSWORD)
    set_roles(uow=world.app.uow, username="anna", roles=["approver"], active=False,
              actor="test:admin", now=world.clock)
    with pytest.raises(AuthenticationFailed):
        authenticate_token(uow=world.app.uow, token=token, now=world.clock)
    with pytest.raises(AuthenticationFailed):
        _login(world, PASSWORD)


def test_sessions_expire(world: World) -> None:
    world.person("anna", "approver")
    _, token = _login(world, PASSWORD)
    world.clock.tick(int(timedelta(hours=8).total_seconds()))
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticate_token(uow=world.app.uow, token=token, now=world.clock)


def test_an_api_key_is_shown_once_stored_hashed_and_scoped(world: World) -> None:
    client, key = create_api_client(uow=world.app.uow, name="erp", scopes=["payments:create"],
                                    actor="test:admin", now=world.clock)
    assert authenticate_key(uow=world.app.uow, key=key).scopes == {"payments:create"}
    with world.app.uow() as unit:
        found = unit.control.client(client.id)
    assert found is not None and key.split(".")[1] not in found[1]
    other_last = "A" if key[-1] != "A" else "B"
    for wrong in (key[:-1] + other_last, key + "x", "bgk_nothing.at-all", ""):
        with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
            authenticate_key(uow=world.app.uow, key=wrong)


def test_an_api_key_cannot_be_given_a_scope_to_approve_or_release(world: World) -> None:
    for scope in ("payments:approve", "payments:release", "admin"):
        with pytest.raises(DomainError, match="is not one of"):
            create_api_client(uow=world.app.uow, name=f"x-{scope}", scopes=[scope],
                              actor="test:admin", now=world.clock)


def test_a18_secrets_are_compared_in_constant_time() -> None:
    """Static check: every secret comparison goes through compare_digest or a library verify."""
    for function in (users.authenticate_key, users.authenticate_token):
        assert "hmac.compare_digest" in inspect.getsource(function)
    assert "hmac.compare_digest" in inspect.getsource(Approval.is_bound_to)
    assert "verify_and_get_timecode" in inspect.getsource(users._match)  # pyotp strings_equal
    assert "_HASHER.verify" in inspect.getsource(users._password_ok)  # argon2
