"""A gateway under a test policy, with people who hold TOTP factors and a clock we control.

TEST_POLICY: below 1,000 CNY straight through; 1,000 to 10,000 one approval with a TOTP
step-up (released by it); 10,000 up to 1,000,000 two approvals with step-up and a releaser;
from 1,000,000 also a token signature (a software key here, labelled as such).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp

from bankgate.bootstrap import App, build_app
from bankgate.domain import PaymentOrder
from bankgate.domain.people import User
from bankgate.services.payments import create_orders
from bankgate.services.users import confirm_totp, create_user, enrol_totp, login
from bankgate.settings import Settings
from tests.builders import NOW, a_draft

TEST_POLICY = b"""
schema = 1
name = "test"
timezone = "Asia/Shanghai"

[unmatched]
approvals = 2
roles = ["approver"]
step_up = true
release = "releaser"

[[tier]]
id = "small"
currencies = ["CNY"]
amount_below = "1000.00"
require = { approvals = 0 }

[[tier]]
id = "medium"
currencies = ["CNY"]
amount_at_least = "1000.00"
amount_below = "10000.00"
require = { approvals = 1, roles = ["approver"], step_up = true }

[[tier]]
id = "large"
currencies = ["CNY"]
amount_at_least = "10000.00"
amount_below = "1000000.00"
[tier.require]
approvals = 2
roles = ["approver", "treasurer_admin"]
step_up = true
release = "releaser"

[[tier]]
id = "huge"
currencies = ["CNY"]
amount_at_least = "1000000.00"
[tier.require]
approvals = 2
roles = ["approver"]
step_up = true
token_signature = true
release = "releaser"
"""

ACCOUNTS = [{"id": "acc-icbc", "bank": "icbc", "number": "6222020200001000001",
             "currency": "CNY", "name": "示例科技有限公司"}]
PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves; TOTP codes follow it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def tick(self, seconds: float = 30) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Person:
    """A user and the authenticator app on their phone."""

    user: User
    totp: pyotp.TOTP
    clock: Clock

    def code(self) -> str:
        return self.totp.at(self.clock())


@dataclass
class World:
    """The app, the clock and the people."""

    app: App
    clock: Clock
    people: dict[str, Person] = field(default_factory=dict)

    def person(self, username: str, *roles: str, **extra: Any) -> Person:
        user = create_user(uow=self.app.uow, username=username, display_name=extra.pop(
            "name", username.title()), roles=roles, password=PASSWORD, actor="test:admin",
            now=self.clock, **extra)
        credential, uri = enrol_totp(uow=self.app.uow, sealer=self.app.sealer, user_id=user.id,
                                     now=self.clock)
        totp = pyotp.parse_uri(uri)
        assert isinstance(totp, pyotp.TOTP)
        confirm_totp(uow=self.app.uow, sealer=self.app.sealer, user_id=user.id,
                     credential_id=credential, code=totp.at(self.clock() - timedelta(seconds=30)),
                     now=self.clock)
        self.people[username] = Person(user, totp, self.clock)
        return self.people[username]

    def orders(self, *amounts: str, maker: Person | None = None,
               **draft: Any) -> list[PaymentOrder]:
        drafts = [a_draft(amount=a, **draft) for a in amounts]
        actor = maker.user.actor if maker else "client:erp"
        return create_orders(uow=self.app.uow, drafts=drafts, actor=actor, now=self.clock,
                             source="api")

    def order(self, amount: str, **kw: Any) -> PaymentOrder:
        return self.orders(amount, **kw)[0]

    def get(self, order_id: str) -> PaymentOrder:
        with self.app.uow() as unit:
            return unit.orders.get(order_id)

    def audit(self, subject: str) -> list[str]:
        with self.app.uow() as unit:
            return [r["action"] for r in unit.audit.for_subject(subject)]


def control_world(store_url: str, tmp_path: Path, policy: bytes = TEST_POLICY) -> World:
    """A World over the store with `policy` installed."""
    path = tmp_path / "policy.toml"
    path.write_bytes(policy)
    clock = Clock(NOW)
    app = build_app(Settings(db_url=store_url), {"accounts": ACCOUNTS, "policy": str(path)})
    app.now = clock
    return World(app, clock)


def signed_in(app: App, name: str, *roles: str) -> dict[str, str]:
    """A new person with `roles`, logged in: the bearer header the API wants."""
    create_user(uow=app.uow, username=name, display_name=name, roles=roles,
                password="correct horse battery", actor="system:test", now=app.now)
    _, session = login(uow=app.uow, username=name, password="correct horse battery",
                       address="127.0.0.1", now=app.now)
    return {"Authorization": f"Bearer {session}"}
