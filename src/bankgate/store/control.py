"""Repositories for people and permissions: rows ⇄ domain values, in the caller's transaction."""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from bankgate.domain.approvals import Approval, ApprovalAct, order_hash
from bankgate.domain.ids import OrderId
from bankgate.domain.payments import PaymentOrder
from bankgate.domain.people import ApiClient, Credential, CredentialKind, Role, User
from bankgate.errors import ConcurrentUpdate, NotFound
from bankgate.store.control_facts import FactsQueries, Neighbourhood
from bankgate.store.sealed import cipher_of
from bankgate.store.tables import payment_orders
from bankgate.store.tables_control import (
    api_clients,
    approvals,
    credentials,
    login_failures,
    order_controls,
    policy_versions,
    sessions,
    step_ups,
    users,
)

__all__ = ["ORDER_TERMS", "ControlRepository", "Failures", "Neighbourhood", "OrderControl",
           "PolicyRow", "SessionRow"]

#: The blind-index label of order terms tags (never the account numbers' label).
ORDER_TERMS = "order-terms"



@dataclass(frozen=True, slots=True)
class SessionRow:
    """A user's session token (hashed)."""

    id: str
    user_id: str
    token_hash: str
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Failures:
    """A failure counter (login per user or per address)."""

    failures: int
    first_at: datetime
    locked_until: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderControl:
    """The decision taken when an order was submitted, and who made it."""

    order_id: str
    maker: str
    policy_version: int
    policy_hash: str
    rule: str
    requirement: dict[str, Any]
    reasons: list[str]
    edited: bool
    decided_at: datetime
    terms_tag: str | None = None  # None: decided before migration 0013 (not covered)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRow:
    """One stored policy version."""

    version: int
    name: str
    hash: str
    content: bytes
    state: str
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class ControlRepository(FactsQueries):
    """Users, keys, sessions, factors, step-ups, approvals, decisions and policy versions."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # users -----------------------------------------------------------------------------
    def add_user(self, user: User, password_hash: str) -> None:
        """Insert a user."""
        self._conn.execute(users.insert().values(
            id=user.id, username=user.username, display_name=user.display_name,
            roles=",".join(sorted(user.roles)), password_hash=password_hash,
            own_accounts=json.dumps(sorted(user.own_accounts)), active=int(user.active),
            version=user.version, created_at=user.created_at))

    def account_tag(self, number: str) -> str:
        """The keyed tag (blind index) of an account number: what `users.own_accounts` holds
        and the duty check compares (A-05), so no unkeyed hash of a number is stored."""
        return cipher_of(self._conn).tag(number)

    def user(self, user_id: str) -> User:
        """One user by id; NotFound."""
        return _to_user(self._one(select(users).where(users.c.id == user_id), "user", user_id))

    def user_by_name(self, username: str) -> tuple[User, str] | None:
        """A user and their password hash, by username."""
        row = self._conn.execute(select(users).where(users.c.username == username)).first()
        return None if row is None else (_to_user(row), row.password_hash)

    def users(self) -> list[User]:
        """Every user, by username."""
        return [_to_user(r) for r in self._conn.execute(select(users).order_by(users.c.username))]

    def save_user(self, user: User, *, expected_version: int,
                  password_hash: str | None = None) -> None:
        """Write roles, accounts, active flag (and a new password hash) on the version."""
        values: dict[str, Any] = {
            "display_name": user.display_name, "roles": ",".join(sorted(user.roles)),
            "own_accounts": json.dumps(sorted(user.own_accounts)), "active": int(user.active),
            "version": user.version}
        if password_hash is not None:
            values["password_hash"] = password_hash
        done = self._conn.execute(update(users).where(
            and_(users.c.id == user.id, users.c.version == expected_version)).values(**values))
        if done.rowcount != 1:
            raise ConcurrentUpdate(f"user {user.username} was changed by someone else")

    # API clients and sessions -----------------------------------------------------------
    def add_client(self, client: ApiClient, secret_hash: str) -> None:
        """Insert an API client."""
        self._conn.execute(api_clients.insert().values(
            id=client.id, name=client.name, secret_hash=secret_hash,
            scopes=",".join(sorted(client.scopes)), active=int(client.active),
            created_at=client.created_at))

    def client(self, client_id: str) -> tuple[ApiClient, str] | None:
        """An API client and its key hash."""
        row = self._conn.execute(select(api_clients).where(api_clients.c.id == client_id)).first()
        if row is None:
            return None
        return ApiClient(id=row.id, name=row.name, scopes=frozenset(filter(None,
                         row.scopes.split(","))), active=bool(row.active),
                         created_at=row.created_at), row.secret_hash

    def clients(self) -> list[ApiClient]:
        """Every API client."""
        ids = [r.id for r in self._conn.execute(select(api_clients.c.id)
                                                .order_by(api_clients.c.name))]
        found = [self.client(i) for i in ids]
        return [c[0] for c in found if c is not None]

    def set_client_active(self, client_id: str, active: bool) -> None:
        """Enable or revoke an API key."""
        self._conn.execute(update(api_clients).where(api_clients.c.id == client_id)
                           .values(active=int(active)))

    def add_session(self, row: SessionRow, at: datetime) -> None:
        """Insert a session."""
        self._conn.execute(sessions.insert().values(
            id=row.id, user_id=row.user_id, token_hash=row.token_hash, created_at=at,
            expires_at=row.expires_at, revoked_at=None))

    def session(self, session_id: str) -> SessionRow | None:
        """A session by id."""
        row = self._conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
        return None if row is None else SessionRow(row.id, row.user_id, row.token_hash,
                                                   row.expires_at, row.revoked_at)

    def revoke_sessions(self, user_id: str, at: datetime) -> None:
        """End every session of a user."""
        self._conn.execute(update(sessions).where(and_(
            sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))).values(revoked_at=at))

    # failure counters --------------------------------------------------------------------
    def failures(self, key: str, *, lock: bool = False) -> Failures | None:
        """The failure counter under `key`."""
        query = select(login_failures).where(login_failures.c.key == key)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        return None if row is None else Failures(row.failures, row.first_at, row.locked_until)

    def put_failures(self, key: str, value: Failures) -> None:
        """Write the counter under `key`."""
        done = self._conn.execute(update(login_failures).where(login_failures.c.key == key)
                                  .values(failures=value.failures, first_at=value.first_at,
                                          locked_until=value.locked_until))
        if done.rowcount == 0:
            self._conn.execute(login_failures.insert().values(
                key=key, failures=value.failures, first_at=value.first_at,
                locked_until=value.locked_until))

    def clear_failures(self, key: str) -> None:
        """Forget the failures under `key` (after a success)."""
        self._conn.execute(login_failures.delete().where(login_failures.c.key == key))

    # credentials and step-ups ---------------------------------------------------------
    def add_credential(self, cred: Credential) -> None:
        """Insert a credential."""
        self._conn.execute(credentials.insert().values(**_credential_row(cred)))

    def credential(self, credential_id: str) -> Credential:
        """One credential; NotFound."""
        return _to_credential(self._one(select(credentials).where(
            credentials.c.id == credential_id), "credential", credential_id))

    def credentials_of(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        """A user's credentials of one kind, not revoked, newest first."""
        rows = self._conn.execute(select(credentials).where(and_(
            credentials.c.user_id == user_id, credentials.c.kind == kind.value,
            credentials.c.revoked_at.is_(None))).order_by(credentials.c.created_at.desc()))
        return [_to_credential(r) for r in rows]

    def save_credential(self, cred: Credential, *, expected_version: int) -> None:
        """Write a credential's state on its version (compare-and-set)."""
        values = _credential_row(cred)
        del values["id"]
        done = self._conn.execute(update(credentials).where(and_(
            credentials.c.id == cred.id, credentials.c.version == expected_version))
            .values(**values))
        if done.rowcount != 1:
            raise ConcurrentUpdate(f"credential {cred.id} was used concurrently")

    def step_up_used(self, credential_id: str, time_step: int) -> bool:
        """True if this credential's code for `time_step` was accepted before."""
        return self._conn.execute(select(step_ups.c.id).where(and_(
            step_ups.c.credential_id == credential_id, step_ups.c.time_step == time_step))
        ).first() is not None

    def add_step_up(self, *, id: str, credential_id: str, time_step: int, user_id: str,
                    act: str, orders_hash: str, order_count: int, at: datetime) -> None:
        """Record an accepted code (unique per credential and time step: K-04)."""
        self._conn.execute(step_ups.insert().values(
            id=id, credential_id=credential_id, time_step=time_step, user_id=user_id, act=act,
            orders_hash=orders_hash, order_count=order_count, at=at))

    def step_up(self, step_up_id: str) -> dict[str, Any]:
        """A step-up row."""
        row = self._one(select(step_ups).where(step_ups.c.id == step_up_id), "step-up",
                        step_up_id)
        return dict(row._mapping)

    # approvals and decisions ------------------------------------------------------------
    def add_approval(self, approval: Approval) -> None:
        """Insert an approval (or release record)."""
        self._conn.execute(approvals.insert().values(
            id=approval.id, order_id=approval.order_id, act=approval.act.value,
            order_hash=approval.order_hash, user_id=approval.user_id, role=approval.role,
            at=approval.at, policy_version=approval.policy_version,
            step_up_id=approval.step_up_id, key_id=approval.key_id,
            signature=approval.signature, voided_at=approval.voided_at))

    def approvals_for(self, order_id: str, *, live_only: bool = True) -> list[Approval]:
        """An order's approvals, oldest first (live ones only unless told)."""
        query = select(approvals).where(approvals.c.order_id == order_id)
        if live_only:
            query = query.where(approvals.c.voided_at.is_(None))
        return [_to_approval(r) for r in self._conn.execute(query.order_by(approvals.c.at,
                                                                           approvals.c.id))]

    def live_approvals(self, order_ids: Sequence[str]) -> dict[str, list[Approval]]:
        """The live approvals of several orders, oldest first each."""
        found: dict[str, list[Approval]] = {i: [] for i in order_ids}
        ids = list(order_ids)
        for start in range(0, len(ids), 500):
            query = select(approvals).where(approvals.c.order_id.in_(ids[start:start + 500]),
                                            approvals.c.voided_at.is_(None))
            for row in self._conn.execute(query.order_by(approvals.c.at, approvals.c.id)):
                found[row.order_id].append(_to_approval(row))
        return found

    def void_approvals(self, order_id: str, at: datetime) -> int:
        """Void every live approval of an order; how many."""
        done = self._conn.execute(update(approvals).where(and_(
            approvals.c.order_id == order_id, approvals.c.voided_at.is_(None)))
            .values(voided_at=at))
        return int(done.rowcount)

    def save_order_terms(self, order: PaymentOrder, *, expected_version: int) -> None:
        """Write an edited order's payee, amount, date and remittance (compare-and-set)."""
        done = self._conn.execute(update(payment_orders).where(and_(
            payment_orders.c.id == order.id, payment_orders.c.version == expected_version))
            .values(payee_name=order.payee.name, payee_account=order.payee.account.reveal(),
                    payee_account_bidx=order.payee.account.reveal(),
                    payee_account_kind=order.payee.account.kind.value,
                    payee_bank=order.payee.bank, amount_minor=order.amount.to_minor(),
                    currency=order.amount.currency.code, execution_date=order.execution_date,
                    remittance=order.remittance, status=order.status.value,
                    version=order.version, status_changed_at=order.status_changed_at))
        if done.rowcount != 1:
            raise ConcurrentUpdate(f"payment order {order.id} changed concurrently")

    def put_control(self, control: OrderControl, *, order: PaymentOrder,
                    replace: bool = False) -> None:
        """Insert (or replace) the decision taken for `order` (as it is now), with the keyed
        tag over its terms and requirement that dispatch checks (A-14)."""
        if replace:
            self._conn.execute(order_controls.delete().where(
                order_controls.c.order_id == control.order_id))
        requirement = json.dumps(control.requirement, sort_keys=True)
        self._conn.execute(order_controls.insert().values(
            order_id=control.order_id, maker=control.maker[:80],
            policy_version=control.policy_version, policy_hash=control.policy_hash,
            rule=control.rule[:120], requirement=requirement,
            reasons=json.dumps(control.reasons, ensure_ascii=False), edited=int(control.edited),
            decided_at=control.decided_at,
            terms_tag=self._terms_tag(order, requirement, control.policy_hash)))

    def terms_intact(self, control: OrderControl, order: PaymentOrder) -> bool:
        """Whether the order's terms and requirement are still those its decision was taken
        on (the tag recomputed under the store's key); True for decisions older than 0013."""
        if control.terms_tag is None:
            return True
        expected = self._terms_tag(order, json.dumps(control.requirement, sort_keys=True),
                                   control.policy_hash)
        return hmac.compare_digest(expected, control.terms_tag)

    def _terms_tag(self, order: PaymentOrder, requirement: str, policy_hash: str) -> str:
        return cipher_of(self._conn).tag(f"{order_hash(order)}|{requirement}|{policy_hash}",
                                         label=ORDER_TERMS)

    def control(self, order_id: str) -> OrderControl | None:
        """The decision stored for an order."""
        return self.controls([order_id]).get(order_id)

    def controls(self, order_ids: Sequence[str]) -> dict[str, OrderControl]:
        """The decisions stored for these orders (those without one are left out)."""
        found: dict[str, OrderControl] = {}
        ids = list(order_ids)
        for start in range(0, len(ids), 500):
            for row in self._conn.execute(select(order_controls).where(
                    order_controls.c.order_id.in_(ids[start:start + 500]))):
                found[row.order_id] = OrderControl(
                    order_id=row.order_id, maker=row.maker, policy_version=row.policy_version,
                    policy_hash=row.policy_hash, rule=row.rule,
                    requirement=json.loads(row.requirement), reasons=json.loads(row.reasons),
                    edited=bool(row.edited), decided_at=row.decided_at,
                    terms_tag=row.terms_tag)
        return found

    def requirements(self, order_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each order's stored requirement; orders without a decision are left out."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(order_ids), 500):
            rows = self._conn.execute(select(
                order_controls.c.order_id, order_controls.c.requirement).where(
                order_controls.c.order_id.in_(order_ids[start:start + 500])))
            found.update({r.order_id: json.loads(r.requirement) for r in rows})
        return found

    def released_order_ids(self) -> list[str]:
        """Ids of orders that passed `released` (for the INV-4 checker)."""
        past = ("released", "submitted", "awaiting_bank_confirmation", "unknown", "accepted",
                "settled", "rejected", "returned")
        rows = self._conn.execute(select(payment_orders.c.id).where(
            payment_orders.c.status.in_(past)))
        return [r.id for r in rows]

    # policy versions ------------------------------------------------------------------------
    def policies(self, state: str | None = None) -> list[PolicyRow]:
        """Stored policy versions, newest first."""
        query = select(policy_versions).order_by(policy_versions.c.version.desc())
        if state:
            query = query.where(policy_versions.c.state == state)
        return [PolicyRow(**r._mapping) for r in self._conn.execute(query)]

    def policy(self, version: int, *, lock: bool = False) -> PolicyRow:
        """One policy version; NotFound."""
        query = select(policy_versions).where(policy_versions.c.version == version)
        row = self._one(query.with_for_update() if lock else query, "policy version",
                        str(version))
        return PolicyRow(**row._mapping)

    def add_policy(self, row: PolicyRow) -> None:
        """Insert a policy version (the primary key refuses a twin)."""
        self._conn.execute(policy_versions.insert().values(
            version=row.version, name=row.name, hash=row.hash, content=row.content,
            state=row.state, proposed_by=row.proposed_by, proposed_at=row.proposed_at,
            decided_by=row.decided_by, decided_at=row.decided_at))

    def set_policy_state(self, version: int, state: str, *, by: str, at: datetime,
                         expect: str) -> None:
        """Move a policy version from `expect` to `state` (compare-and-set)."""
        done = self._conn.execute(update(policy_versions).where(and_(
            policy_versions.c.version == version, policy_versions.c.state == expect))
            .values(state=state, decided_by=by, decided_at=at))
        if done.rowcount != 1:
            raise ConcurrentUpdate(f"policy version {version} is no longer {expect}")

    def next_policy_version(self) -> int:
        """One more than the highest stored version."""
        top = self._conn.execute(select(func.max(policy_versions.c.version))).scalar_one()
        return int(top or 0) + 1

    def _one(self, query: Any, kind: str, key: str) -> Any:
        row = self._conn.execute(query).first()
        if row is None:
            raise NotFound(f"no {kind} {key!r}")
        return row


def _to_user(row: Any) -> User:
    return User(id=row.id, username=row.username, display_name=row.display_name,
                roles=frozenset(Role(r) for r in row.roles.split(",") if r),
                own_accounts=frozenset(json.loads(row.own_accounts)), active=bool(row.active),
                version=row.version, created_at=row.created_at)


def _credential_row(cred: Credential) -> dict[str, Any]:
    return {"id": cred.id, "user_id": cred.user_id, "kind": cred.kind.value,
            "secret": cred.secret, "public_key": cred.public_key, "algorithm": cred.algorithm,
            "created_at": cred.created_at, "confirmed_at": cred.confirmed_at,
            "revoked_at": cred.revoked_at, "failures": cred.failures,
            "locked_at": cred.locked_at, "last_step": cred.last_step, "version": cred.version}


def _to_credential(row: Any) -> Credential:
    return Credential(id=row.id, user_id=row.user_id, kind=CredentialKind(row.kind),
                      secret=row.secret, public_key=row.public_key, algorithm=row.algorithm,
                      created_at=row.created_at, confirmed_at=row.confirmed_at,
                      revoked_at=row.revoked_at, failures=row.failures, locked_at=row.locked_at,
                      last_step=row.last_step, version=row.version)


def _to_approval(row: Any) -> Approval:
    return Approval(id=row.id, order_id=OrderId(row.order_id), act=ApprovalAct(row.act),
                    order_hash=row.order_hash, user_id=row.user_id, role=row.role, at=row.at,
                    policy_version=row.policy_version, step_up_id=row.step_up_id,
                    key_id=row.key_id, signature=row.signature, voided_at=row.voided_at)
