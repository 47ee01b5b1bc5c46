"""The demo's people: two approvers and a releaser, with TOTP, acting on what the policy holds.

Demo only: the users are made on the spot and their codes generated from the secrets the
enrolment returned, as an authenticator app would. Real users type their codes.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pyotp

from bankgate.crypto.interim_seal import Sealer
from bankgate.domain import PaymentOrder, Status
from bankgate.domain.people import User
from bankgate.services._tx import UowFactory
from bankgate.services.approvals import approve, release
from bankgate.services.users import confirm_totp, create_user, enrol_totp

__all__ = ["act_as_demo_users"]

_PEOPLE = (("anna", "王安娜", ("approver",)), ("bo", "李博", ("approver", "treasurer_admin")),
           ("rex", "赵瑞", ("releaser",)))


def _person(uow: UowFactory, sealer: Sealer, now: Callable[[], datetime], username: str,
            name: str, roles: Sequence[str]) -> tuple[User, pyotp.TOTP]:
    user = create_user(uow=uow, username=f"demo-{username}-{secrets.token_hex(2)}",
                       display_name=name, roles=roles, password=secrets.token_urlsafe(16),
                       actor="system:demo", now=now)
    credential, uri = enrol_totp(uow=uow, sealer=sealer, user_id=user.id, now=now)
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    earlier = totp.at(now() - timedelta(seconds=30))  # leaves the current code for acting
    confirm_totp(uow=uow, sealer=sealer, user_id=user.id, credential_id=credential,
                 code=earlier, now=now)
    return user, totp


def act_as_demo_users(*, uow: UowFactory, sealer: Sealer, now: Callable[[], datetime],
                      orders: Sequence[PaymentOrder]) -> tuple[list[PaymentOrder], list[str]]:
    """Approve and release every order the policy held; lines saying who did what and why."""
    held = [o for o in orders if o.status in (Status.PENDING_APPROVAL, Status.APPROVED)]
    with uow() as unit:
        controls = [unit.control.control(o.id) for o in orders]
    rules = Counter(c.rule for c in controls if c is not None)
    lines = [f"policy: {len(orders) - len(held)} went straight through, {len(held)} held "
             "for approval 审批; rules applied: "
             + ", ".join(f"{rule} ×{count}" for rule, count in sorted(rules.items()))]
    if not held:
        return list(orders), lines
    (anna, anna_otp), (bo, bo_otp), (rex, rex_otp) = (
        _person(uow, sealer, now, *p) for p in _PEOPLE)
    first = approve(uow=uow, sealer=sealer, order_ids=[o.id for o in held
                                                       if o.status is Status.PENDING_APPROVAL],
                    user=anna, code=anna_otp.now(), now=now)
    lines.append(f"{anna.display_name} approved {len(first)} with one TOTP code")
    second = [o.id for o in first if o.status is Status.PENDING_APPROVAL]
    if second:
        approve(uow=uow, sealer=sealer, order_ids=second, user=bo, code=bo_otp.now(), now=now)
        lines.append(f"{bo.display_name} gave the second approval to {len(second)}")
    with uow() as unit:
        waiting = [o.id for o in unit.orders.get_many([o.id for o in held])
                   if o.status is Status.APPROVED]
    if waiting:
        release(uow=uow, sealer=sealer, order_ids=waiting, user=rex, code=rex_otp.now(),
                now=now)
        lines.append(f"{rex.display_name} released {len(waiting)}")
    with uow() as unit:
        return unit.orders.get_many([o.id for o in orders]), lines
