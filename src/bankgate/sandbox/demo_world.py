"""The demo world: three sandbox banks, our company's accounts and 200 payees.

示例科技有限公司 (Demo Technology Co., Ltd.) has one CNY operating account at icbc, cmb and
boc; boc's is deliberately too small, so payments from it fail for insufficient funds late in
a run. Payees (suppliers and employees) sit at the three banks and at `abc`, a bank outside
the sandbox. A few are rigged to fail for real reasons: a closed account, an account the bank
does not hold, a name that is not the holder's. Everything follows from the seed.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any, Final

from bankgate.sandbox.world import AccountSpec, BankSpec, World

__all__ = ["COMPANY", "EXTERNAL_BANK", "demo_payees", "demo_world"]

COMPANY: Final = "示例科技有限公司"  # Demo Technology Co., Ltd.
EXTERNAL_BANK: Final = "abc"  # a real bank id, but not a sandbox bank: settles to clearing
PAYEE_COUNT: Final = 200
_BANKS: Final = (("icbc", "icbc", "中国工商银行"), ("cmb", "cmb", "招商银行"),
                 ("boc", "boc", "中国银行"))
_PREFIX: Final = {"icbc": ("622202", 13), "cmb": ("621483", 10), "boc": ("621785", 13),
                  "abc": ("622848", 13)}
#: Payee position → why it fails; early ones so that a short run meets every kind.
_RIGGED: Final = {3: "unknown_account", 8: "closed_account", 14: "name_mismatch",
                  27: "closed_account", 41: "name_mismatch", 55: "unknown_account",
                  96: "name_mismatch", 133: "closed_account", 171: "unknown_account"}

_CITIES: Final = ("上海 北京 深圳 广州 杭州 苏州 南京 成都 "
                  "武汉 天津 宁波 厦门 青岛 西安 重庆").split()
_BRANDS: Final = ("宏达 恒信 华瑞 鼎盛 新联 金桥 永泰 瑞丰 晨光 嘉禾 远航 博元 天成 隆兴 汇通 "
                  "安达 盛世 云帆 启明 和信").split()
_TRADES: Final = ("贸易 物流 电子 包装 建材 印务 机电 化工 "
                  "餐饮管理 信息技术 办公用品 精密制造").split()
_SURNAMES: Final = "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 林 罗 高".split()
_GIVEN: Final = ("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 平 刚 桂英 浩然 "
                 "子涵 欣怡 宇轩").split()
_LATIN: Final = ("Acme Industrial Supplies Ltd.", "Nordic Components AB", "Li Wei",
                 "Pacific Rim Logistics Pte. Ltd.", "Maria Garcia", "Müller Technik GmbH")


def demo_world(seed: int = 7) -> World:
    """The demo world for `seed` (the same seed, the same world)."""
    return _generate(seed)[0]


def demo_payees(world: World) -> list[dict[str, Any]]:
    """What the company believes of each payee: name, account, bank, amount, flow, remittance.

    Rigged payees carry `rigged` (the reason their payment fails); the others carry None.
    Raises:
        ValueError: when `world` is not a demo world.
    """
    if world.seed is None or _generate(world.seed)[0] != world:
        raise ValueError("demo_payees: the world is not one made by demo_world(seed)")
    return _generate(world.seed)[1]


def _generate(seed: int) -> tuple[World, list[dict[str, Any]]]:
    rng = random.Random(seed)
    used: set[str] = set()
    accounts: list[AccountSpec] = []
    payees: list[dict[str, Any]] = []
    for index in range(PAYEE_COUNT):
        rigged = _RIGGED.get(index)
        bank = rng.choices(("icbc", "cmb", "boc", EXTERNAL_BANK), (32, 30, 28, 10))[0]
        if rigged and bank == EXTERNAL_BANK:
            bank = "icbc"  # a rigged payee must be at a bank that can tell
        flow = "payroll" if rng.random() < 0.35 else "supplier"
        name = _employee(rng) if flow == "payroll" else _supplier(rng)
        if rng.random() < 0.03:
            name = rng.choice(_LATIN)
        number = _number(rng, bank, used)
        cents = rng.randint(600_000, 3_500_000) if flow == "payroll" else \
            rng.randint(200_000, 15_000_000)
        believed = _misspelt(name) if rigged == "name_mismatch" else name
        if bank != EXTERNAL_BANK and rigged != "unknown_account":
            accounts.append(AccountSpec(bank=bank, number=number, holder=name,
                                        opening_balance=_text(rng.randint(0, 5_000_000)),
                                        open=rigged != "closed_account"))
        remittance = (f"工资 {index + 1:04d}" if flow == "payroll"
                      else f"货款 INV-{seed:03d}-{index + 1:04d}")
        payees.append({"name": believed, "account": number, "bank": bank,
                       "amount": _text(cents), "currency": "CNY", "flow": flow,
                       "remittance": remittance, "rigged": rigged})
    company = _company_accounts(rng, payees, used)
    banks = tuple(BankSpec(id=i, dialect=d, name=n) for i, d, n in _BANKS)
    world = World(banks=banks, accounts=(*company, *accounts), company=COMPANY, seed=seed)
    return world, payees


def _company_accounts(rng: random.Random, payees: list[dict[str, Any]],
                      used: set[str]) -> list[AccountSpec]:
    """Rich enough at icbc and cmb; at boc about 70 % of what its payees ask for."""
    demand = {bank: 0 for bank, _, _ in _BANKS}
    for index, payee in enumerate(payees):
        # Orders to the external bank are spread over the company's accounts by the gateway.
        bank = payee["bank"] if payee["bank"] in demand else _BANKS[index % 3][0]
        demand[bank] += int(Decimal(payee["amount"]) * 100)
    result = []
    for bank, _, _ in _BANKS:
        if bank == "boc":
            cents = demand[bank] * 7 // 10 // 1_000_000 * 1_000_000
        else:
            cents = max(300_000_000, (demand[bank] * 3 // 2 // 100_000_000 + 1) * 100_000_000)
        result.append(AccountSpec(bank=bank, number=_number(rng, "company", used), holder=COMPANY,
                                  opening_balance=_text(cents), company=True))
    return result


def _text(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):f}"


def _number(rng: random.Random, bank: str, used: set[str]) -> str:
    prefix, digits = _PREFIX.get(bank, ("1001", 15))
    while True:
        number = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
        if number not in used:
            used.add(number)
            return number


def _supplier(rng: random.Random) -> str:
    return f"{rng.choice(_CITIES)}{rng.choice(_BRANDS)}{rng.choice(_TRADES)}有限公司"


def _employee(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN)


def _misspelt(name: str) -> str:
    """A name as a clerk might have typed it: the short company form, or a wrong character."""
    if name.endswith("有限公司"):
        return name.removesuffix("有限公司") + "公司"
    return name + "明" if not name.isascii() else name.upper().replace(" ", "")
