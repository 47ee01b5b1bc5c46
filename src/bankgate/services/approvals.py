"""Orders under the policy: submit, approve, reject, release, edit — each one transaction.

`draft → pending_approval → approved → released` as the order's decision requires; only a
straight-through decision skips the people. The decision taken at submission is stored with
the order (policy version and hash); approving and releasing require the stricter of it and
the policy in force now, so loosening the policy never loosens an order already waiting
(A-08). Every approval is bound to the order's canonical hash; editing the order voids them
and sends it back to `pending_approval` (A-06). Every refusal is audited and leaves every
order as it was (the work runs in a transaction that is rolled back; the refusal's audit
record is written in its own).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bankgate.crypto.keyfiles import verifier_from_pem
from bankgate.crypto.manifest import SignedManifest, check_manifest
from bankgate.crypto.sealer import Sealer
from bankgate.crypto.signer import Algorithm, Verifier
from bankgate.domain import PaymentOrder, Status
from bankgate.domain.approvals import (
    Approval,
    ApprovalAct,
    canonical_order_bytes,
    order_hash,
    orders_hash,
)
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.people import CredentialKind, User
from bankgate.errors import (
    AuthenticationFailed,
    ConcurrentUpdate,
    ConfigError,
    DomainError,
    NotFound,
    PermissionDenied,
    PolicyError,
    ReplayRefused,
    SecurityError,
    SignatureInvalid,
)
from bankgate.policy import (
    Actor,
    Decision,
    Facts,
    Policy,
    Release,
    Requirement,
    check_approver,
    check_releaser,
    evaluate,
)
from bankgate.services._tx import Changes, UowFactory, in_transaction
from bankgate.services.policies import (
    facts_for,
    facts_for_many,
    needs_facts,
    policy_in_force,
)
from bankgate.services.users import record_step_up_failure, verify_step_up
from bankgate.store import NewJob, UnitOfWork
from bankgate.store.control import OrderControl

__all__ = ["NotPending", "VerifierFor", "approve", "decision_record", "reject", "release",
           "route_new_orders", "route_order"]

_FORM_BATCHES = NewJob("form_batches", {}, dedupe_key="form_batches")
VerifierFor = Callable[[str, str], Verifier]  # (public key PEM, algorithm) -> a Verifier


class NotPending(DomainError):
    """The order is not in the status this action needs (already approved, released…)."""

    code = "conflict"


@dataclass(frozen=True, slots=True)
class _Plan:
    order: PaymentOrder
    need: Requirement
    control: OrderControl


def route_new_orders(unit: UnitOfWork, orders: Sequence[PaymentOrder], *, maker: str,
                     at: datetime) -> tuple[list[PaymentOrder], bool]:
    """Decide freshly stored draft orders; straight-through ones go on to `released`.

    Returns the orders as moved and whether any was released (a batch job is due).
    """
    policy = policy_in_force(unit)
    gathered = facts_for_many(unit, orders, at=at) if needs_facts(policy) else {}
    changes = Changes(at=at, actor=f"policy:{policy.name}")
    for order in orders:
        facts = gathered.get(order.id) or Facts(at=at)
        decision = evaluate(policy, order, facts)
        unit.control.put_control(decision_record(order.id, maker, decision, at, edited=False),
                                 order=order)
        route_order(changes, order, decision.requirement, decision.rule)
    changes.flush(unit)
    moved = [changes.latest(o) for o in orders]
    return moved, any(o.status is Status.RELEASED for o in moved)


def decision_record(order_id: str, maker: str, decision: Decision, at: datetime, *,
                    edited: bool) -> OrderControl:
    """What is stored with an order about the decision taken for it."""
    return OrderControl(order_id=order_id, maker=maker, policy_version=decision.policy_version,
                        policy_hash=decision.policy_hash, rule=decision.rule,
                        requirement=decision.requirement.to_dict(),
                        reasons=list(decision.reasons), edited=edited, decided_at=at)


def route_order(changes: Changes, order: PaymentOrder, need: Requirement, rule: str) -> None:
    """Move a draft to `pending_approval`, and on as far as `need` lets it go without people."""
    moved = changes.move(order, Status.PENDING_APPROVAL, rule=rule,
                         requires=need.describe())
    if need.approvals == 0:
        moved = changes.move(moved, Status.APPROVED, rule=rule)
        if need.is_straight_through:
            changes.move(moved, Status.RELEASED, rule=rule)


def _payee_tag(unit: UnitOfWork, order: PaymentOrder) -> str:
    """The keyed tag of the order's payee account (A-05: compared with own-account tags)."""
    return unit.control.account_tag(order.payee.account.reveal())


def _actor(user: User) -> Actor:
    return Actor(user_id=user.actor, roles=user.roles, own_accounts=user.own_accounts,
                 name=user.display_name)


def _plans(unit: UnitOfWork, order_ids: Sequence[str], at: datetime) -> list[_Plan]:
    policy = policy_in_force(unit)  # read once per transaction
    return [_plan(unit, policy, unit.orders.get(i), at) for i in dict.fromkeys(order_ids)]


def _plan(unit: UnitOfWork, policy: Policy, order: PaymentOrder, at: datetime) -> _Plan:
    control = unit.control.control(order.id)
    if control is None:
        raise NotPending(f"payment order {order.id} has no policy decision (made before "
                         "controls were in force); cancel it and create it again")
    stored = Requirement.from_dict(control.requirement)
    facts = (facts_for(unit, order, at=at, edited=control.edited) if needs_facts(policy)
             else Facts(at=at, edited=control.edited))
    return _Plan(order, stored.stricter(evaluate(policy, order, facts).requirement), control)


def _makers(control: OrderControl) -> list[str]:
    return control.maker.split(",")


def _check_approver(unit: UnitOfWork, plan: _Plan, user: User) -> str:
    approvers = [a.user_id for a in unit.control.approvals_for(plan.order.id)
                 if a.act is ApprovalAct.APPROVE]
    role = None
    for maker in _makers(plan.control):
        role = check_approver(plan.order, _actor(user), plan.need, maker=maker,
                              approvers=approvers, payee_tag=_payee_tag(unit, plan.order))
    assert role is not None
    return role.value


def _step_up(unit: UnitOfWork, plans: Sequence[_Plan], *, user: User, code: str | None,
             sealer: Sealer, act: ApprovalAct, at: datetime) -> str | None:
    if not any(p.need.step_up for p in plans):
        return None
    cred, step = verify_step_up(unit, sealer=sealer, user=user, code=code, at=at)
    step_up_id = f"s-{secrets.token_hex(8)}"
    unit.control.add_step_up(id=step_up_id, credential_id=cred.id, time_step=step,
                             user_id=user.id, act=act.value,
                             orders_hash=orders_hash([order_hash(p.order) for p in plans]),
                             order_count=len(plans), at=at)
    return step_up_id


def software_verifier(public_key_pem: str, algorithm: str) -> Verifier:
    """A verifier for a registered RSA-SHA256, ECDSA-P256-SHA256 or SM2-SM3 public key
    (crypto/software.py, crypto/sm.py: the same Verifier interface)."""
    try:
        return verifier_from_pem(public_key_pem.encode("ascii"), Algorithm(algorithm),
                                 where="the registered signing key")
    except (ConfigError, ValueError) as exc:
        raise SignatureInvalid(f"the registered key cannot verify {algorithm}: {exc}") from exc


def _signature(unit: UnitOfWork, plan: _Plan, user: User, signatures: Mapping[str, bytes],
               verifier_for: VerifierFor | None) -> tuple[str | None, bytes | None]:
    if not plan.need.token_signature:
        return None, None
    signature = signatures.get(plan.order.id)
    keys = unit.control.credentials_of(user.id, CredentialKind.SIGNING_KEY)
    verifier_for = verifier_for or software_verifier
    if signature is None or not keys:
        raise SignatureInvalid(f"order {plan.order.id}: this tier needs a token signature "
                               "over the order's canonical hash")
    for key in keys:
        verifier = verifier_for(key.public_key or "", key.algorithm or "")
        try:
            verifier.verify(canonical_order_bytes(plan.order), signature)
        except SignatureInvalid:
            continue
        return key.id, signature
    raise SignatureInvalid(f"order {plan.order.id}: the signature does not verify with any "
                           f"signing key of {user.actor}")


def _manifest_signature(unit: UnitOfWork, plans: Sequence[_Plan], user: User,
                        manifest: SignedManifest | None,
                        verifier_for: VerifierFor | None) -> tuple[str, bytes, str] | None:
    """EBICS-style: one signature over the manifest of every signed order's canonical hash.

    Checked before anything moves: the signature verifies with one of the user's signing keys
    and the manifest lists exactly the orders needing a token signature, with their hashes
    as they are now (an order edited, added or left out is refused, named).
    """
    hashes = {p.order.id: order_hash(p.order) for p in plans if p.need.token_signature}
    if manifest is None or not hashes:
        return None
    batch = json.loads(manifest.manifest).get("batch_id", "")
    for key in unit.control.credentials_of(user.id, CredentialKind.SIGNING_KEY):
        verifier = (verifier_for or software_verifier)(key.public_key or "", key.algorithm or "")
        if verifier.key_id == manifest.key_id:
            check_manifest(manifest, verifier, batch_id=str(batch), order_hashes=hashes)
            return key.id, manifest.signature, hashlib.sha256(manifest.manifest).hexdigest()
    raise SignatureInvalid(f"the manifest is not signed by a signing key of {user.actor}")


def approve(*, uow: UowFactory, sealer: Sealer, order_ids: Sequence[str], user: User,
            code: str | None, now: Callable[[], datetime],
            signatures: Mapping[str, bytes] | None = None,
            verifier_for: VerifierFor | None = None,
            manifest: SignedManifest | None = None) -> list[PaymentOrder]:
    """Approve orders (one code for all of them); the last approval approves or releases.

    A token-signature tier takes a per-order signature (`signatures`) or one signed
    `manifest` over all the orders' canonical hashes (crypto/manifest.py).
    """
    at = now()

    def work(unit: UnitOfWork) -> tuple[list[PaymentOrder], bool]:
        plans = _plans(unit, order_ids, at)
        for plan in plans:
            _require_status(plan.order, Status.PENDING_APPROVAL, "approved")
        roles = [_check_approver(unit, plan, user) for plan in plans]
        step_up_id = _step_up(unit, plans, user=user, code=code, sealer=sealer,
                              act=ApprovalAct.APPROVE, at=at)
        signed = _manifest_signature(unit, plans, user, manifest, verifier_for)
        changes = Changes(at=at, actor=user.actor)
        for plan, role in zip(plans, roles, strict=True):
            if signed is not None and plan.need.token_signature:
                key_id, signature = signed[0], signed[1]
            else:
                key_id, signature = _signature(unit, plan, user, signatures or {},
                                               verifier_for)
            _record(unit, plan, user, role, ApprovalAct.APPROVE, at, step_up_id, key_id,
                    signature, manifest=signed[2] if signed and signature else None)
            _advance_if_complete(unit, changes, plan)
        changes.flush(unit)
        moved = [unit.orders.get(p.order.id) for p in plans]
        released = any(o.status is Status.RELEASED for o in moved)
        if released:
            unit.jobs.enqueue(_FORM_BATCHES, now=at)
        return moved, released

    return _guarded(uow, work, user=user, at=at, action="approve", order_ids=order_ids)


def _record(unit: UnitOfWork, plan: _Plan, user: User, role: str, act: ApprovalAct,
            at: datetime, step_up_id: str | None, key_id: str | None = None,
            signature: bytes | None = None, *, manifest: str | None = None) -> None:
    approval = Approval(id=f"a-{secrets.token_hex(8)}", order_id=plan.order.id, act=act,
                        order_hash=order_hash(plan.order), user_id=user.actor, role=role,
                        at=at, policy_version=plan.control.policy_version,
                        step_up_id=step_up_id, key_id=key_id, signature=signature)
    unit.control.add_approval(approval)
    unit.audit.append(AuditRecord(
        at=at, actor=user.actor, action=f"order.{act.value}", subject_kind="order",
        subject_id=plan.order.id, detail={"order_hash": approval.order_hash, "role": role,
                                          "step_up": step_up_id, "key_id": key_id,
                                          "requires": plan.need.describe(),
                                          **({"manifest": manifest} if manifest else {})}))


def _advance_if_complete(unit: UnitOfWork, changes: Changes, plan: _Plan) -> None:
    live = [a for a in unit.control.approvals_for(plan.order.id)
            if a.act is ApprovalAct.APPROVE and a.is_bound_to(plan.order)]
    if len({a.user_id for a in live}) < plan.need.approvals:
        # no status change, but the version moves: concurrent approvals serialise here
        unit.orders.save(replace(plan.order, version=plan.order.version + 1),
                         expected_version=plan.order.version)
        return
    moved = changes.move(plan.order, Status.APPROVED, approvals=len(live))
    if plan.need.release is Release.AUTO:  # the last approval's step-up covers the release
        changes.move(moved, Status.RELEASED, approvals=len(live))


def release(*, uow: UowFactory, sealer: Sealer, order_ids: Sequence[str], user: User,
            code: str | None, now: Callable[[], datetime]) -> list[PaymentOrder]:
    """Release approved orders for dispatch; refused with too few bound approvals (A-07)."""
    at = now()

    def work(unit: UnitOfWork) -> tuple[list[PaymentOrder], bool]:
        plans = _plans(unit, order_ids, at)
        for plan in plans:
            _require_status(plan.order, Status.APPROVED, "released")
            approvals = unit.control.approvals_for(plan.order.id)
            approvers = [a.user_id for a in approvals if a.act is ApprovalAct.APPROVE]
            bound = {a.user_id for a in approvals
                     if a.act is ApprovalAct.APPROVE and a.is_bound_to(plan.order)}
            if len(bound) < plan.need.approvals:
                raise PermissionDenied(f"order {plan.order.id}: {len(bound)} of "
                                       f"{plan.need.approvals} required approvals match the "
                                       "order as it is now")
            for maker in _makers(plan.control):
                check_releaser(plan.order, _actor(user), plan.need, maker=maker,
                               approvers=approvers, payee_tag=_payee_tag(unit, plan.order))
        step_up_id = _step_up(unit, plans, user=user, code=code, sealer=sealer,
                              act=ApprovalAct.RELEASE, at=at)
        changes = Changes(at=at, actor=user.actor)
        for plan in plans:
            _record(unit, plan, user, "releaser", ApprovalAct.RELEASE, at, step_up_id)
            changes.move(plan.order, Status.RELEASED)
        changes.flush(unit)
        unit.jobs.enqueue(_FORM_BATCHES, now=at)
        return [changes.latest(p.order) for p in plans], True

    return _guarded(uow, work, user=user, at=at, action="release", order_ids=order_ids)


def reject(*, uow: UowFactory, order_id: str, user: User, reason: str,
           now: Callable[[], datetime]) -> PaymentOrder:
    """Refuse an order waiting for approval or release: cancelled, its approvals void."""
    at = now()

    def work(unit: UnitOfWork) -> tuple[list[PaymentOrder], bool]:
        [plan] = _plans(unit, [order_id], at)
        if plan.order.status not in (Status.PENDING_APPROVAL, Status.APPROVED):
            raise NotPending(f"payment order {order_id} is {plan.order.status.value}; only "
                             "orders awaiting approval or release can be rejected")
        # any approving role may refuse, even someone who approved before
        role = check_approver(plan.order, _actor(user), replace(plan.need, duties=frozenset()),
                              maker="", approvers=(),
                              payee_tag=_payee_tag(unit, plan.order)).value
        unit.control.void_approvals(order_id, at)
        changes = Changes(at=at, actor=user.actor)
        changes.move(plan.order, Status.CANCELLED, reason_code="APPROVER_REFUSED",
                     reason=reason[:200] or "rejected", role=role)
        changes.flush(unit)
        return [changes.latest(plan.order)], False

    return _guarded(uow, work, user=user, at=at, action="reject", order_ids=[order_id])[0]


def _require_status(order: PaymentOrder, status: Status, verb: str) -> None:
    if order.status is not status:
        raise NotPending(f"payment order {order.id} is {order.status.value}, not "
                         f"{status.value}; it cannot be {verb}")


def _guarded(uow: UowFactory, work: Callable[[UnitOfWork], tuple[list[PaymentOrder], bool]],
             *, user: User, at: datetime, action: str,
             order_ids: Sequence[str]) -> list[PaymentOrder]:
    """Run `work`; on a refusal, audit it (and count a bad code) in a transaction of its own."""
    try:
        return in_transaction(uow, work)[0]
    except (AuthenticationFailed, ReplayRefused) as exc:
        record_step_up_failure(uow=uow, user=user, at=at, reason=str(exc))
        _refused(uow, user, at, action, order_ids, exc)
        raise
    except IntegrityError as exc:  # a twin request recorded the same time step first (K-04)
        refused = ReplayRefused("this TOTP code was already used; wait for the next one")
        _refused(uow, user, at, action, order_ids, refused)
        raise refused from exc
    except (SecurityError, DomainError, PolicyError, ConcurrentUpdate, NotFound) as exc:
        _refused(uow, user, at, action, order_ids, exc)
        raise


def _refused(uow: UowFactory, user: User, at: datetime, action: str,
             order_ids: Sequence[str], exc: Exception) -> None:
    def work(unit: UnitOfWork) -> None:
        unit.audit.append_many([AuditRecord(
            at=at, actor=user.actor, action=f"{action}.refused", subject_kind="order",
            subject_id=str(i)[:40], detail={"reason": str(exc), "error": type(exc).__name__})
            for i in order_ids])

    in_transaction(uow, work)
