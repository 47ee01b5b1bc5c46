"""People and systems: users (argon2 passwords, DB-backed lockout), sessions, API keys, TOTP.

A-11: ten failed logins for one username within 30 minutes lock it for 30 minutes; an
address is locked after fifty. A-10: five consecutive wrong codes lock a TOTP factor; a code
counts once (its time step is stored with the approval it authorised, unique per credential,
K-04); a new enrolment revokes the old secret. A-18: every secret is compared in constant
time (argon2's verify, `hmac.compare_digest`, pyotp's `strings_equal`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bankgate.crypto.keyfiles import verifier_from_pem
from bankgate.crypto.sealer import Sealer
from bankgate.crypto.signer import Algorithm
from bankgate.domain.alerts import AlertLevel
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.people import SCOPES, ApiClient, Credential, CredentialKind, Role, User
from bankgate.errors import (
    AuthenticationFailed,
    ConfigError,
    DomainError,
    NotFound,
    PermissionDenied,
    ReplayRefused,
)
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.alerts import new_alert, raise_alert
from bankgate.store import UnitOfWork
from bankgate.store.control import Failures, SessionRow

__all__ = [
    "LOGIN_LOCK",
    "MAX_LOGIN_FAILURES",
    "MAX_TOTP_FAILURES",
    "audit_refusal",
    "authenticate_key",
    "authenticate_token",
    "confirm_totp",
    "create_api_client",
    "create_user",
    "enrol_totp",
    "list_users",
    "login",
    "record_step_up_failure",
    "register_signing_key",
    "reset_totp",
    "set_roles",
    "user_named",
    "verify_step_up",
]

log = logging.getLogger(__name__)
MAX_LOGIN_FAILURES: Final = 10  # A-11, PCI DSS 8.3.4
MAX_ADDRESS_FAILURES: Final = 50
LOGIN_WINDOW: Final = timedelta(minutes=30)
LOGIN_LOCK: Final = timedelta(minutes=30)
MAX_TOTP_FAILURES: Final = 5
SESSION_TTL: Final = timedelta(hours=8)
MIN_PASSWORD: Final = 12
_HASHER: Final = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """What an unknown name's password is checked against (as much work as a known one's).

    Made on first use, not at import: every `bankgate` process would pay its ~0.25 s.
    """
    return _HASHER.hash("not a password of anyone")


def _audit(unit: UnitOfWork, *, at: datetime, actor: str, action: str, subject: str,
           kind: str = "user", **detail: object) -> None:
    unit.audit.append(AuditRecord(at=at, actor=actor, action=action, subject_kind=kind,
                                  subject_id=subject[:40], detail=detail))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(*, uow: UowFactory, username: str, display_name: str, roles: Iterable[str],
                password: str, own_accounts: Iterable[str] = (), actor: str,
                now: Callable[[], datetime]) -> User:
    """Add a user; DomainError names a bad role, a short password or a taken username."""
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"password: must be at least {MIN_PASSWORD} characters")
    if not username.isascii() or not username.replace(".", "").replace("-", "").isalnum():
        raise DomainError(f"username: {username!r} may hold only letters, digits, '.' and '-'")
    numbers = [a for a in own_accounts if a.strip()]
    draft = User(id=f"u-{secrets.token_hex(8)}", username=username, display_name=display_name,
                 roles=_roles(roles), own_accounts=frozenset(), active=True, version=1,
                 created_at=now())

    def work(unit: UnitOfWork) -> User:
        if unit.control.user_by_name(username) is not None:
            raise DomainError(f"username: {username!r} is taken")
        # keyed tags (store/sealed.py), never the numbers nor an unkeyed hash of them
        user = replace(draft, own_accounts=frozenset(unit.control.account_tag(a)
                                                     for a in numbers))
        unit.control.add_user(user, _HASHER.hash(password))
        _audit(unit, at=user.created_at, actor=actor, action="user.created", subject=user.id,
               username=username, roles=sorted(user.roles))
        return user

    return in_transaction(uow, work)


def set_roles(*, uow: UowFactory, username: str, roles: Iterable[str], actor: str,
              now: Callable[[], datetime], active: bool | None = None) -> User:
    """Change a user's roles (and enable or disable them); audited."""
    new_roles = _roles(roles)

    def work(unit: UnitOfWork) -> User:
        found = unit.control.user_by_name(username)
        if found is None:
            raise DomainError(f"username: no user {username!r}")
        user = found[0]
        changed = replace(user, roles=new_roles, version=user.version + 1,
                          active=user.active if active is None else active)
        unit.control.save_user(changed, expected_version=user.version)
        if not changed.active:
            unit.control.revoke_sessions(user.id, now())
        _audit(unit, at=now(), actor=actor, action="user.roles", subject=user.id,
               before=sorted(user.roles), after=sorted(new_roles), active=changed.active)
        return changed

    return in_transaction(uow, work)


def _roles(names: Iterable[str]) -> frozenset[Role]:
    out = set()
    for name in names:
        try:
            out.add(Role(name))
        except ValueError:
            raise DomainError(f"roles: {name!r} is not one of "
                              f"{', '.join(r.value for r in Role)}") from None
    if not out:
        raise DomainError("roles: a user needs at least one role")
    return frozenset(out)


def login(*, uow: UowFactory, username: str, password: str, address: str,
          now: Callable[[], datetime]) -> tuple[User, str]:
    """Check a password and open a session; the token is shown once (A-11 lockout)."""
    at = now()
    keys = (f"user:{username[:64]}", f"ip:{address[:64]}")

    def check(unit: UnitOfWork) -> tuple[User, str] | str:
        for key, limit in zip(keys, (MAX_LOGIN_FAILURES, MAX_ADDRESS_FAILURES), strict=True):
            state = unit.control.failures(key, lock=True)
            if state and state.locked_until and state.locked_until > at:
                _audit(unit, at=at, actor=keys[0], action="login.refused", subject=key,
                       reason="locked", limit=limit)
                return f"{key.split(':')[0]} locked until {state.locked_until:%H:%M} UTC"
        found = unit.control.user_by_name(username)
        stored = found[1] if found else _dummy_hash()  # same work for unknown names (timing)
        if not _password_ok(stored, password) or found is None or not found[0].active:
            for key, limit in zip(keys, (MAX_LOGIN_FAILURES, MAX_ADDRESS_FAILURES),
                                  strict=True):
                _count_failure(unit, key, limit, at)
            _audit(unit, at=at, actor=keys[0], action="login.failed", subject=keys[0],
                   address=address)
            return "wrong username or password"
        unit.control.clear_failures(keys[0])
        token = _open_session(unit, found[0], at)
        _audit(unit, at=at, actor=found[0].actor, action="login.succeeded", subject=found[0].id,
               address=address)
        return found[0], token

    result = in_transaction(uow, check)
    if isinstance(result, str):
        raise AuthenticationFailed(f"login refused: {result}")
    return result


def _password_ok(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _count_failure(unit: UnitOfWork, key: str, limit: int, at: datetime) -> None:
    state = unit.control.failures(key)
    if state is None or at - state.first_at > LOGIN_WINDOW:
        state = Failures(0, at, None)
    count = state.failures + 1
    locked = at + LOGIN_LOCK if count >= limit else None
    unit.control.put_failures(key, Failures(count, state.first_at, locked))
    if locked:
        log.warning("login locked after repeated failures", extra={"key": key.split(":")[0]})


def _open_session(unit: UnitOfWork, user: User, at: datetime) -> str:
    session_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    unit.control.add_session(SessionRow(session_id, user.id, _digest(secret),
                                        at + SESSION_TTL, None), at)
    return f"bgs_{session_id}.{secret}"


def authenticate_token(*, uow: UowFactory, token: str, now: Callable[[], datetime]) -> User:
    """The user behind a session token; AuthenticationFailed otherwise."""
    session_id, _, secret = token.removeprefix("bgs_").partition(".")
    with uow() as unit:
        row = unit.control.session(session_id[:40]) if secret else None
        ok = row is not None and hmac.compare_digest(row.token_hash, _digest(secret))
        if row is None or not ok or row.revoked_at or row.expires_at <= now():
            raise AuthenticationFailed("the session token is unknown, expired or revoked")
        user = unit.control.user(row.user_id)
    if not user.active:
        raise AuthenticationFailed("the user is disabled")
    return user


def create_api_client(*, uow: UowFactory, name: str, scopes: Iterable[str], actor: str,
                      now: Callable[[], datetime]) -> tuple[ApiClient, str]:
    """Add an ERP client; returns it and its key, which is shown once and stored hashed."""
    wanted = frozenset(scopes)
    unknown = sorted(wanted - SCOPES)
    if unknown or not wanted:
        raise DomainError(f"scopes: {unknown[0] if unknown else 'none'!r} is not one of "
                          f"{', '.join(sorted(SCOPES))}")
    client = ApiClient(id=secrets.token_hex(8), name=name, scopes=wanted, active=True,
                       created_at=now())
    secret = secrets.token_urlsafe(32)

    def work(unit: UnitOfWork) -> None:
        if any(c.name == name for c in unit.control.clients()):
            raise DomainError(f"name: an API client {name!r} exists already")
        unit.control.add_client(client, _digest(secret))
        _audit(unit, at=client.created_at, actor=actor, action="apikey.created",
               subject=client.id, kind="api_client", name=name, scopes=sorted(wanted))

    in_transaction(uow, work)
    return client, f"bgk_{client.id}.{secret}"


def authenticate_key(*, uow: UowFactory, key: str) -> ApiClient:
    """The ERP client behind an API key; AuthenticationFailed otherwise (A-18)."""
    client_id, _, secret = key.removeprefix("bgk_").partition(".")
    with uow() as unit:
        found = unit.control.client(client_id[:40]) if secret else None
    stored = found[1] if found else _digest("no such key")
    if not hmac.compare_digest(stored, _digest(secret)) or found is None or not found[0].active:
        raise AuthenticationFailed("the API key is unknown or revoked")
    return found[0]


def enrol_totp(*, uow: UowFactory, sealer: Sealer, user_id: str,
               now: Callable[[], datetime]) -> tuple[str, str]:
    """A new, unconfirmed TOTP factor: (credential id, provisioning URI shown once)."""
    secret = pyotp.random_base32()
    cred_id = f"c-{secrets.token_hex(8)}"

    def work(unit: UnitOfWork) -> str:
        user = unit.control.user(user_id)
        if any(c.confirmed_at for c in unit.control.credentials_of(user_id,
                                                                   CredentialKind.TOTP)):
            # a second factor is replaced by an administrator, never by its holder's password
            raise PermissionDenied(f"{user.actor} already has a TOTP factor; an administrator "
                                   "must reset it first (bankgate users reset-totp)")
        unit.control.add_credential(Credential(
            id=cred_id, user_id=user_id, kind=CredentialKind.TOTP,
            secret=sealer.seal(secret.encode(), context=cred_id.encode()), public_key=None,
            algorithm="TOTP-SHA1-6-30", created_at=now(), confirmed_at=None, revoked_at=None,
            failures=0, locked_at=None, last_step=None, version=1))
        _audit(unit, at=now(), actor=user.actor, action="totp.enrolled", subject=cred_id,
               kind="credential")
        return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="bankgate")

    return cred_id, in_transaction(uow, work)


def reset_totp(*, uow: UowFactory, username: str, actor: str,
               now: Callable[[], datetime]) -> int:
    """Revoke every TOTP factor of a user (lost phone, locked factor); how many. Audited."""
    def work(unit: UnitOfWork) -> int:
        found = unit.control.user_by_name(username)
        if found is None:
            raise NotFound(f"no user {username!r}")
        revoked = 0
        for cred in unit.control.credentials_of(found[0].id, CredentialKind.TOTP):
            unit.control.save_credential(replace(cred, revoked_at=now(),
                                                 version=cred.version + 1),
                                         expected_version=cred.version)
            revoked += 1
        _audit(unit, at=now(), actor=actor, action="totp.reset", subject=found[0].id,
               revoked=revoked)
        return revoked

    return in_transaction(uow, work)


def confirm_totp(*, uow: UowFactory, sealer: Sealer, user_id: str, credential_id: str,
                 code: str, now: Callable[[], datetime]) -> None:
    """Confirm a new factor with its first code; every older TOTP factor is revoked."""
    def work(unit: UnitOfWork) -> None:
        cred = unit.control.credential(credential_id)
        if cred.user_id != user_id or cred.confirmed_at or cred.revoked_at:
            raise AuthenticationFailed("no unconfirmed TOTP enrolment with that id")
        step = _match(sealer, cred, code, now())
        if step is None:
            raise AuthenticationFailed("the code does not match the new TOTP secret")
        for old in unit.control.credentials_of(user_id, CredentialKind.TOTP):
            if old.id != cred.id:
                unit.control.save_credential(replace(old, revoked_at=now(),
                                                     version=old.version + 1),
                                             expected_version=old.version)
        unit.control.save_credential(replace(cred, confirmed_at=now(), last_step=step,
                                             version=cred.version + 1),
                                     expected_version=cred.version)
        _audit(unit, at=now(), actor=f"user-id:{user_id}", action="totp.confirmed",
               subject=cred.id, kind="credential")

    in_transaction(uow, work)


def register_signing_key(*, uow: UowFactory, user_id: str, public_key_pem: str,
                         algorithm: str, actor: str, now: Callable[[], datetime]) -> str:
    """Register the public half of a user's signing key (token or software); its id.

    RSA-SHA256, ECDSA-P256-SHA256 and SM2-SM3 (国密) keys are accepted; a PEM that is not a
    public key of `algorithm` is refused here, not at the first approval.
    """
    try:
        kind = Algorithm(algorithm)
    except ValueError as exc:
        raise DomainError(f"signing key: {algorithm!r} is not one of "
                          f"{', '.join(a.value for a in Algorithm)}") from exc
    try:
        verifier_from_pem(public_key_pem.encode("ascii"), kind, where="signing key")
    except (ConfigError, UnicodeEncodeError) as exc:
        raise DomainError(f"signing key: not a {algorithm} public key ({exc})") from exc
    cred_id = f"k-{secrets.token_hex(8)}"

    def work(unit: UnitOfWork) -> str:
        unit.control.user(user_id)
        unit.control.add_credential(Credential(
            id=cred_id, user_id=user_id, kind=CredentialKind.SIGNING_KEY, secret=None,
            public_key=public_key_pem, algorithm=algorithm, created_at=now(),
            confirmed_at=now(), revoked_at=None, failures=0, locked_at=None, last_step=None,
            version=1))
        _audit(unit, at=now(), actor=actor, action="signing_key.registered", subject=cred_id,
               kind="credential", algorithm=algorithm)
        return cred_id

    return in_transaction(uow, work)


def _match(sealer: Sealer, cred: Credential, code: str, at: datetime) -> int | None:
    assert cred.secret is not None
    secret = sealer.open(cred.secret, context=cred.id.encode()).decode()
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code.strip(), for_time=at,
                                                          valid_window=1)
    except (pyotp.exceptions.OTPVerificationError, ValueError):
        return None


def verify_step_up(unit: UnitOfWork, *, sealer: Sealer, user: User, code: str | None,
                   at: datetime) -> tuple[Credential, int]:
    """Check a fresh code inside the caller's transaction: (credential, time step).

    The caller records the step with what it authorised in the same transaction (K-04).
    Raises AuthenticationFailed (no factor, locked, wrong) or ReplayRefused (used before);
    the caller then records the failure with `record_step_up_failure` in its own transaction.
    """
    if not code:
        raise AuthenticationFailed("a TOTP code is required for this step-up")
    usable = [c for c in unit.control.credentials_of(user.id, CredentialKind.TOTP)
              if c.confirmed_at is not None]
    if not usable:
        raise PermissionDenied(f"{user.actor} has no confirmed TOTP factor")
    cred = usable[0]
    if cred.locked_at is not None:
        raise AuthenticationFailed("the TOTP factor is locked after repeated failures; an "
                                   "administrator must reset it")
    step = _match(sealer, cred, code, at)
    if step is None:
        raise AuthenticationFailed("the TOTP code is wrong")
    if (cred.last_step is not None and step <= cred.last_step) or \
            unit.control.step_up_used(cred.id, step):
        raise ReplayRefused("this TOTP code was already used; wait for the next one")
    unit.control.save_credential(replace(cred, failures=0, last_step=step,
                                         version=cred.version + 1),
                                 expected_version=cred.version)
    return cred, step


def record_step_up_failure(*, uow: UowFactory, user: User, at: datetime, reason: str) -> bool:
    """Count a failed code against the user's factor (locks at five); True if now locked."""
    def work(unit: UnitOfWork) -> bool:
        usable = [c for c in unit.control.credentials_of(user.id, CredentialKind.TOTP)
                  if c.confirmed_at is not None]
        if not usable or usable[0].locked_at is not None:
            return bool(usable)
        cred = usable[0]
        failures = cred.failures + 1
        locked = at if failures >= MAX_TOTP_FAILURES else None
        unit.control.save_credential(replace(cred, failures=failures, locked_at=locked,
                                             version=cred.version + 1),
                                     expected_version=cred.version)
        _audit(unit, at=at, actor=user.actor, action="totp.failed", subject=cred.id,
               kind="credential", reason=reason, failures=failures, locked=bool(locked))
        if locked:
            log.warning("TOTP factor locked after repeated failures",
                        extra={"credential": cred.id})
            raise_alert(unit, new_alert(  # a lock is an alert, not only a log line
                "totp.locked", f"user {user.username}", AlertLevel.CRITICAL,
                f"the TOTP factor of {user.username} is locked after {failures} wrong codes "
                f"(last: {reason}); they cannot approve until an administrator runs "
                f"`bankgate users reset-totp {user.username}` after checking who tried",
                occurrence=at.isoformat(timespec="seconds")), at=at)
        return locked is not None

    return in_transaction(uow, work)


def audit_refusal(*, uow: UowFactory, now: Callable[[], datetime], actor: str, what: str,
                  reason: str) -> None:
    """Record a request refused at the edge (no or bad credentials, missing permission)."""
    in_transaction(uow, lambda unit: _audit(unit, at=now(), actor=actor,
                                            action="request.refused", subject=what,
                                            kind="request", reason=reason))


def user_named(*, uow: UowFactory, username: str) -> User:
    """The user with `username`; NotFound."""
    with uow() as unit:
        found = unit.control.user_by_name(username)
    if found is None:
        raise NotFound(f"no user {username!r}")
    return found[0]


def list_users(*, uow: UowFactory) -> list[User]:
    """Every user."""
    with uow() as unit:
        return unit.control.users()
