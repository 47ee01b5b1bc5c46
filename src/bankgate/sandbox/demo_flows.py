"""The demo's employees (issue 7): their debit cards at the sandbox banks, added to a world.

Cards are UnionPay numbers with a right Luhn check digit; one is closed at its bank, so the
demo shows a payee account failing verification before anything is paid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from stdnum import luhn

from bankgate.sandbox.world import AccountSpec, World

__all__ = ["DEMO_EMPLOYEES", "with_employees"]


def _card(prefix: str, serial: int) -> str:
    body = f"{prefix}{serial:012d}"
    return body + luhn.calc_check_digit(body)


#: employee id → (name, department, bank, card, open)
DEMO_EMPLOYEES: Final = {
    "D001": ("周杰", "研发部", "icbc", _card("622202", 880001), True),
    "D002": ("吴敏", "市场部", "cmb", _card("621483", 880002), True),
    "D003": ("郑洁", "财务部", "boc", _card("621785", 880003), True),
    "D004": ("孙浩", "研发部", "icbc", _card("622202", 880004), True),
    "D005": ("冯雪", "销售部", "cmb", _card("621483", 880005), True),
    "D006": ("钱进", "销售部", "boc", _card("621785", 880006), False),  # closed card
}


def with_employees(world: World) -> World:
    """`world` with the demo employees' cards held at its banks."""
    cards = tuple(AccountSpec(bank=bank, number=number, holder=name, open=is_open)
                  for name, _, bank, number, is_open in DEMO_EMPLOYEES.values())
    return replace(world, accounts=(*world.accounts, *cards))
