"""A sandbox world for the flow tests (issue 7): our accounts at three banks, and employees.

Employees are paid to UnionPay debit cards whose Luhn check digit is right (real cards have
one); one employee's card is closed, one is a number no bank holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stdnum import luhn

from bankgate.bootstrap import App, build_app
from bankgate.sandbox.run import RunningSandbox, start_sandbox
from bankgate.sandbox.world import AccountSpec, BankSpec, World
from bankgate.settings import Settings

COMPANY = "示例科技有限公司"
BANKS = ("icbc", "cmb", "boc")
#: A sandbox bank where we hold no account: pay there and the money crosses banks.
OTHER_BANK = "ccb"
OURS = {"icbc": "1202020109000001111", "cmb": "755900000010001", "boc": "104100000020001"}
OPENING = {"icbc": "5000000.00", "cmb": "800000.00", "boc": "300000.00"}


def card(prefix: str, serial: int, length: int = 19) -> str:
    """A card number with `prefix` and a right Luhn check digit."""
    body = f"{prefix}{serial:0{length - 1 - len(prefix)}d}"
    return body + luhn.calc_check_digit(body)


#: employee id → (name, bank, card, open at the bank)
EMPLOYEES: dict[str, tuple[str, str, str, bool]] = {
    "E001": ("张伟", "icbc", card("622202", 1001), True),
    "E002": ("李娜", "cmb", card("621483", 1002, 16), True),
    "E003": ("王芳", "boc", card("621785", 1003), True),
    "E004": ("刘洋", "icbc", card("622202", 1004), False),  # card closed at the bank
    "E005": ("陈静", "cmb", card("621483", 1005, 16), True),
    "E006": ("杨磊", OTHER_BANK, card("621700", 1006), True),
}
UNHELD_CARD = card("622202", 9999)  # Luhn-valid, but no bank holds it


def flows_world() -> World:
    """Our three accounts and the employees' cards."""
    accounts = [AccountSpec(bank=b, number=OURS[b], holder=COMPANY, opening_balance=OPENING[b],
                            company=True) for b in BANKS]
    accounts += [AccountSpec(bank=bank, number=number, holder=name, open=is_open)
                 for name, bank, number, is_open in EMPLOYEES.values()]
    banks = (*(BankSpec(id=b, dialect=b) for b in BANKS),
             BankSpec(id=OTHER_BANK, dialect="icbc", name="中国建设银行"))
    return World(banks=banks,
                 accounts=tuple(accounts), company=COMPANY, seed=3)


@contextmanager
def running_sandbox(directory: Path) -> Iterator[RunningSandbox]:
    """The flow world's banks over real TLS."""
    with start_sandbox(flows_world(), state_dir=directory, settle_delay_s=0.05) as running:
        yield running


def gateway_config(sandbox: RunningSandbox, policy: str = "straight-through") -> dict[str, Any]:
    """Channels to the sandbox banks and our accounts (ids icbc-cny, cmb-cny, boc-cny).

    The payment policy is straight-through unless a test asks for another (issue 5's
    approvals are tested where they are made; tests here say so when they use them).
    """
    banks = {b: {**sandbox.gateway_options(b), "timeout_s": 2.0, "backoff_s": 0.01,
                 "max_total_s": 3.0} for b in BANKS}
    accounts = [{"id": f"{b}-cny", "bank": b, "number": OURS[b], "currency": "CNY",
                 "name": COMPANY} for b in BANKS]
    return {"banks": banks, "accounts": accounts, "policy": policy,
            "follow": {"poll_first_s": 0.05, "poll_max_s": 0.3, "not_found_grace_s": 0.5}}


@contextmanager
def gateway(store_url: str, sandbox: RunningSandbox,
            policy: str = "straight-through") -> Iterator[App]:
    """The gateway on `store_url`, talking to the sandbox."""
    app = build_app(Settings(db_url=store_url), gateway_config(sandbox, policy))
    try:
        yield app
    finally:
        app.close()
