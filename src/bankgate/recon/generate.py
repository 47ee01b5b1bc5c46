"""A labelled, seeded world of bank lines and open items with the noise real statements have.

For tests and `bench/recon.py`: it knows which lines belong to which items (`truth`), so the
matcher's precision and recall can be measured. The noise, per case (weights in `_CASES`):
echoed and dropped end-to-end ids, fees deducted from receipts, batch bookings, partial and
split payments, returned payments, internal transfers (both legs), the same amount twice on
one day, Chinese names with and without 有限公司 (and full-width, typos), intraday lines later
booked, references in the remittance text in Chinese and Latin forms, unrelated lines
(interest, unknown receipts, amounts that collide with open items) and items never paid.
Built straight into columns: a million records as dataclasses would cost more than matching.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from bankgate.domain.recon import BankLine, LineStatus, OpenItem, OpenItemKind
from bankgate.domain.recon_keys import reference_keys, remittance_keys
from bankgate.recon.columns import ItemColumns, LineColumns

__all__ = ["Labelled", "as_bank_lines", "as_open_items", "generate", "stored_keys_of"]

_START = date(2026, 10, 1).toordinal()
_DAYS = 30
_CITIES = ("上海", "北京", "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "天津", "重庆",
           "西安", "宁波", "厦门", "青岛", "长沙")
_WORDS = ("华信", "远大", "恒通", "金桥", "鼎盛", "东方", "瑞丰", "海纳", "中联", "新元", "博远",
          "天诚", "宏达", "安泰", "嘉禾", "凯旋", "明德", "润泽", "星河", "云图", "智联", "博雅")
_TRADES = ("电子科技", "贸易", "物流", "信息技术", "建筑工程", "医药", "食品", "机械制造",
           "新能源", "咨询", "包装材料", "化工")
_SUFFIXES = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")
_LATIN = ("Acme Trading", "Pacific Logistics", "Northwind Foods", "Blue Harbor Shipping",
          "Orient Star Electronics", "Silverline Machinery")
_TYPO = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"


@dataclass(slots=True)
class Labelled:
    """Lines, items and the true (line, item) pairs by row number.

    The pairs are kept as two arrays (`truth_lines[k]` pays `truth_items[k]`): a million
    tuples in a set are ~100 MB, and freeing them just before a timed run slowed the run by
    a third (bench/recon.py); `truth` builds the set when asked.
    """

    lines: LineColumns
    items: ItemColumns
    kinds: list[OpenItemKind]
    truth_lines: array[int] = field(default_factory=lambda: array("q"))
    truth_items: array[int] = field(default_factory=lambda: array("q"))

    @property
    def truth(self) -> set[tuple[int, int]]:
        """The true (line, item) pairs."""
        return set(zip(self.truth_lines, self.truth_items, strict=True))


class _World:
    """Appends rows to the columns; one method per kind of case."""

    def __init__(self, n: int, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.accounts = [f"acc-{k:03d}" for k in range(max(2, n // 5000))]
        self.customers = [self._customer(k) for k in range(max(20, n // 20))]
        self.line: dict[str, list[object]] = {k: [] for k in _LINE_FIELDS}
        self.item: dict[str, list[object]] = {k: [] for k in _ITEM_FIELDS}
        self.kinds: list[OpenItemKind] = []
        self.truth_lines: array[int] = array("q")
        self.truth_items: array[int] = array("q")
        self.serial = 0
        self.days: dict[int, int] = {}  # one int object per date: 2M rows share ~40 values

    def _customer(self, k: int) -> tuple[str, str]:
        rnd = random.Random(k)
        if k % 25 == 0:
            name = f"{rnd.choice(_LATIN)} {k} Co., Ltd."
        else:
            name = (rnd.choice(_CITIES) + rnd.choice(_WORDS) + rnd.choice(_WORDS)
                    + rnd.choice(_TRADES) + rnd.choice(_SUFFIXES))
        return name, f"6222{k:012d}"

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial:08d}"

    def amount(self) -> int:
        if self.rnd.random() < 0.03:
            return self.rnd.choice((1_000_000, 2_000_000, 5_000_000, 10_000_000))
        return int(10 ** self.rnd.uniform(4, 8))

    def add_item(self, kind: OpenItemKind, account: str, amount: int, day: int,
                 **extra: object) -> int:
        row = len(self.kinds)
        self.kinds.append(kind)
        values = {"id": self.next_id("I"), "account": account, "amount": amount,
                  "open_amount": amount, "currency": "CNY", "day": self.days.setdefault(day, day),
                  "end_to_end_id": None, "instruction_id": None, "batch_id": None,
                  "counterparty_name": None, "counterparty_account": None, "references": ()}
        values.update(extra)
        for key, column in self.item.items():
            column.append(values[key])
        return row

    def add_line(self, account: str, amount: int, day: int, *, pays: tuple[int, ...] = (),
                 booked: bool = True, **extra: object) -> int:
        row = len(self.line["id"])
        values = {"id": self.next_id("L"), "account": account, "amount": amount,
                  "currency": "CNY", "day": self.days.setdefault(day, day), "booked": booked,
                  "end_to_end_id": None,
                  "instruction_id": None, "counterparty_name": None,
                  "counterparty_account": None, "remittance": None}
        values.update(extra)
        for key, column in self.line.items():
            column.append(values[key])
        self.truth_lines.extend([row] * len(pays))
        self.truth_items.extend(pays)
        return row

    def fee(self, amount: int) -> int:
        """A fee deducted on the way: at most 50.00 and 5 % of the amount."""
        return self.rnd.randrange(1, max(2, min(5000, amount // 20)))

    def day(self) -> int:
        return _START + self.rnd.randrange(_DAYS)

    def later(self, day: int) -> int:
        return day + self.rnd.choice((0, 0, 0, 1, 1, 2, 3))

    def variant(self, name: str) -> str:
        """The name as the payer's bank writes it: suffix dropped, full-width, a typo."""
        roll = self.rnd.random()
        if roll < 0.3:
            for suffix in ("股份有限公司", "有限责任公司", "有限公司", " Co., Ltd."):
                name = name.removesuffix(suffix)
        elif roll < 0.4:
            name = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)
        elif roll < 0.55 and len(name) > 8:
            k = self.rnd.randrange(2, len(name) - 4)
            name = name[:k] + self.rnd.choice(_TYPO) + name[k + 1:]
        elif roll < 0.6 and name[:2] in _CITIES:
            name = name[2:]  # the payer's bank leaves the city out
        return name


_LINE_FIELDS = ("id", "account", "amount", "currency", "day", "booked", "end_to_end_id",
                "instruction_id", "counterparty_name", "counterparty_account", "remittance")
_ITEM_FIELDS = ("id", "account", "amount", "open_amount", "currency", "day", "end_to_end_id",
                "instruction_id", "batch_id", "counterparty_name", "counterparty_account",
                "references")


def _payment(w: _World, *, echo: bool = True, kind: OpenItemKind = OpenItemKind.PAYMENT) -> None:
    account, (name, number), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    amount, e2e = -w.amount(), w.next_id("E2E")
    i = w.add_item(kind, account, amount, day, end_to_end_id=e2e, counterparty_name=name,
                   counterparty_account=number)
    w.add_line(account, amount, w.later(day), pays=(i,), counterparty_name=name,
               counterparty_account=number, end_to_end_id=e2e if echo else None)


def _dropped_id(w: _World) -> None:
    _payment(w, echo=False)


def _claim(w: _World) -> None:
    _payment(w, kind=OpenItemKind.CLAIM)


def _receipt_account(w: _World) -> None:
    account, (name, number), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    amount = w.amount()
    i = w.add_item(OpenItemKind.RECEIPT, account, amount, day, counterparty_name=name,
                   counterparty_account=number)
    w.add_line(account, amount, w.later(day), pays=(i,), counterparty_name=w.variant(name),
               counterparty_account=number, remittance="货款")


def _reference_text(w: _World, ref: str) -> str:
    return w.rnd.choice((f"货款 发票号 {ref}", f"发票号：{ref}", f"payment {ref} thanks",
                         f"INV {ref}", f"付{ref}号发票款"))


def _receipt_reference(w: _World) -> None:
    account, (name, number), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    amount = w.amount()
    ref = (f"{w.rnd.randrange(10**7, 10**8)}" if w.rnd.random() < 0.5
           else f"INV-2026-{w.serial:07d}")
    i = w.add_item(OpenItemKind.RECEIPT, account, amount, day, counterparty_name=name,
                   counterparty_account=number, references=(ref,))
    fee = w.fee(amount) if w.rnd.random() < 0.2 else 0
    w.add_line(account, amount - fee, w.later(day), pays=(i,), counterparty_name="代付" + name,
               counterparty_account=f"9558{w.serial:012d}", remittance=_reference_text(w, ref))


def _receipt_fuzzy(w: _World) -> None:
    account, (name, _), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    amount = w.amount()
    i = w.add_item(OpenItemKind.RECEIPT, account, amount, day, counterparty_name=name)
    fee = w.fee(amount) if w.rnd.random() < 0.5 else 0
    w.add_line(account, amount - fee, w.later(day), pays=(i,), counterparty_name=w.variant(name),
               counterparty_account=f"6217{w.serial:012d}", remittance="往来款")


def _batch(w: _World) -> None:
    account, day, batch_id = w.rnd.choice(w.accounts), w.day(), w.next_id("B")
    rows = []
    for _ in range(w.rnd.randrange(2, 21)):
        name, number = w.rnd.choice(w.customers)
        rows.append(w.add_item(OpenItemKind.PAYMENT, account, -w.amount() // 10, day,
                               batch_id=batch_id, end_to_end_id=w.next_id("E2E"),
                               counterparty_name=name, counterparty_account=number))
    total = sum(w.item["amount"][i] for i in rows)  # type: ignore[misc]
    text = f"批量代发 {batch_id}" if w.rnd.random() < 0.5 else "批量代发"
    w.add_line(account, total, w.later(day), pays=tuple(rows), remittance=text)


def _split(w: _World) -> None:
    """Two or three lines pay one invoice; or one line pays part of it."""
    account, (name, _), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    amount, ref = w.amount() + 300, f"{w.rnd.randrange(10**7, 10**8)}"
    i = w.add_item(OpenItemKind.RECEIPT, account, amount, day, counterparty_name=name,
                   references=(ref,))
    parts = w.rnd.choice((1, 2, 3))
    paid = amount * w.rnd.randrange(30, 71) // 100 if parts == 1 else amount
    cuts = sorted(w.rnd.sample(range(1, paid), parts - 1)) if parts > 1 else []
    for low, high in zip([0, *cuts], [*cuts, paid], strict=True):
        w.add_line(account, high - low, w.later(day), pays=(i,), counterparty_name=name,
                   remittance=_reference_text(w, ref))


def _returned(w: _World) -> None:
    account, (name, number), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    amount, e2e = w.amount(), w.next_id("E2E")
    out = w.add_item(OpenItemKind.PAYMENT, account, -amount, day, end_to_end_id=e2e,
                     counterparty_name=name, counterparty_account=number)
    back = w.add_item(OpenItemKind.RETURN, account, amount, day + 3, end_to_end_id=e2e)
    w.add_line(account, -amount, day, pays=(out,), end_to_end_id=e2e, counterparty_name=name)
    w.add_line(account, amount, day + w.rnd.randrange(2, 6), pays=(back,), end_to_end_id=e2e,
               remittance="退汇 账户名不符")


def _transfer(w: _World) -> None:
    source, target = w.rnd.sample(w.accounts, 2)
    amount, day, e2e = w.amount(), w.day(), w.next_id("E2E")
    out = w.add_item(OpenItemKind.TRANSFER_OUT, source, -amount, day, end_to_end_id=e2e)
    into = w.add_item(OpenItemKind.TRANSFER_IN, target, amount, day, end_to_end_id=e2e)
    w.add_line(source, -amount, day, pays=(out,), end_to_end_id=e2e, remittance="资金调拨")
    w.add_line(target, amount, w.later(day), pays=(into,), end_to_end_id=e2e,
               remittance="资金调拨")


def _same_amount_twice(w: _World) -> None:
    account, day, amount = w.rnd.choice(w.accounts), w.day(), w.amount()
    for name, number in w.rnd.sample(w.customers, 2):
        i = w.add_item(OpenItemKind.RECEIPT, account, amount, day, counterparty_name=name,
                       counterparty_account=number)
        w.add_line(account, amount, day, pays=(i,), counterparty_name=name,
                   counterparty_account=number)


def _intraday_then_booked(w: _World) -> None:
    account, (name, _), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    amount, e2e = -w.amount(), w.next_id("E2E")
    i = w.add_item(OpenItemKind.PAYMENT, account, amount, day, end_to_end_id=e2e,
                   counterparty_name=name)
    w.add_line(account, amount, day, booked=False, end_to_end_id=e2e, counterparty_name=name)
    w.add_line(account, amount, day, pays=(i,), end_to_end_id=e2e, counterparty_name=name)


def _unrelated(w: _World) -> None:
    """A line nobody expected (interest, an unknown payer), or an item nobody paid."""
    account, (name, number), day = w.rnd.choice(w.accounts), w.rnd.choice(w.customers), w.day()
    roll, amount = w.rnd.random(), w.amount()
    if roll < 0.3:
        w.add_line(account, w.rnd.randrange(100, 100_000), day, remittance="结息")
    elif roll < 0.6:
        w.add_line(account, amount, day, counterparty_name=name, remittance="往来款")
    else:
        w.add_item(OpenItemKind.RECEIPT, account, amount, day, counterparty_name=name,
                   counterparty_account=number)
        if roll < 0.8:  # the same amount arrives from someone else, far too late
            w.add_line(account, amount, day + 12, counterparty_name=w.rnd.choice(_LATIN))


_CASES: tuple[tuple[Callable[[_World], None], int], ...] = (
    (_payment, 28), (_dropped_id, 6), (_claim, 4), (_receipt_account, 12),
    (_receipt_reference, 12), (_receipt_fuzzy, 10), (_batch, 1), (_split, 4), (_returned, 2),
    (_transfer, 4), (_same_amount_twice, 3), (_intraday_then_booked, 3), (_unrelated, 8),
)


def generate(n: int, *, seed: int = 1, stored_keys: bool = True) -> Labelled:
    """About `n` lines and as many items, labelled.

    With `stored_keys` the columns are in the shape the store hands them over: each line's
    remittance reference keys and each item's reference keys computed as import does
    (`stored_keys_of`); without, the run extracts them itself.
    """
    w = _World(n, seed)
    cases = [case for case, _ in _CASES]
    weights = [weight for _, weight in _CASES]
    while len(w.line["id"]) < n:
        for case in w.rnd.choices(cases, weights, k=1024):
            case(w)
    lines = LineColumns(**w.line)  # type: ignore[arg-type]
    items = ItemColumns(**w.item)  # type: ignore[arg-type]
    if stored_keys:
        lines, items = stored_keys_of(lines, items)
    return Labelled(lines, items, w.kinds, w.truth_lines, w.truth_items)


def stored_keys_of(lines: LineColumns, items: ItemColumns) -> tuple[LineColumns, ItemColumns]:
    """The columns with the reference keys the store keeps (`statement_entries.recon_keys`,
    `recon_items.recon_keys`), computed per row by the functions import calls."""
    none: tuple[str, ...] = ()
    return (replace(lines, remittance_keys=[remittance_keys(r) if r else none
                                            for r in lines.remittance]),
            replace(items, reference_keys=[tuple(map(reference_keys, refs)) if refs else ()
                                           for refs in items.references]))


def as_bank_lines(lines: LineColumns) -> list[BankLine]:
    """The columns as `BankLine`s (booked on the day the columns give)."""
    return [BankLine(id=lines.id[n], account_id=lines.account[n], amount_minor=lines.amount[n],
                     currency=lines.currency[n], booking_date=date.fromordinal(lines.day[n]),
                     status=LineStatus.BOOKED if lines.booked[n] else LineStatus.PENDING,
                     end_to_end_id=lines.end_to_end_id[n],
                     instruction_id=lines.instruction_id[n],
                     counterparty_name=lines.counterparty_name[n],
                     counterparty_account=lines.counterparty_account[n],
                     remittance=lines.remittance[n],
                     remittance_keys=None if lines.remittance_keys is None
                     else lines.remittance_keys[n]) for n in range(len(lines))]


def as_open_items(items: ItemColumns, kinds: list[OpenItemKind]) -> list[OpenItem]:
    """The columns as `OpenItem`s."""
    return [OpenItem(id=items.id[i], kind=kinds[i], account_id=items.account[i],
                     amount_minor=items.amount[i], open_amount_minor=items.open_amount[i],
                     currency=items.currency[i], expected_date=date.fromordinal(items.day[i]),
                     end_to_end_id=items.end_to_end_id[i],
                     instruction_id=items.instruction_id[i], batch_id=items.batch_id[i],
                     counterparty_name=items.counterparty_name[i],
                     counterparty_account=items.counterparty_account[i],
                     references=items.references[i],
                     reference_keys=None if items.reference_keys is None
                     else items.reference_keys[i]) for i in range(len(items))]
