"""Payment routing: which rail a payment travels on, chosen by amount, urgency and time.

China's rails: a same-bank book transfer (行内转账); CNAPS's large-value real-time system
HVPS (大额实时支付系统, business days, any amount); the bulk system BEPS (小额批量支付系统,
7×24, per-payment limit); and the internet banking system IBPS (超级网银, 7×24, real time,
per-payment limit). Each bank's rails, hours, limits and preferences are data
(services/data/routing/<bank>.toml); `choose_route` walks the preference list for the
payment's urgency and takes the first rail that applies and is open, or else the first that
applies, which then waits for its next opening. Every rail considered is explained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bankgate.domain.money import Money

__all__ = ["Days", "Rail", "Route", "RoutingTable", "choose_route"]


class Days(StrEnum):
    """On which days a rail runs."""

    ALL = "all"  # 7×24 systems
    BUSINESS = "business"  # working days: Monday to Friday less holidays, plus make-up days


@dataclass(frozen=True, slots=True, kw_only=True)
class Rail:
    """One way to move money, with its hours and per-payment limits."""

    id: str
    name: str
    same_bank: bool  # True: only when payer and payee bank are the same
    days: Days
    opens: time
    closes: time  # exclusive; time(0) after opens=time(0) means "all day"
    min_amount: Money | None = None
    max_amount: Money | None = None

    @property
    def all_day(self) -> bool:
        """True for a rail open around the clock on its days."""
        return self.opens == self.closes == time(0)

    def hours(self) -> str:
        """`08:30–17:15` or `00:00–24:00`."""
        return "00:00–24:00" if self.all_day else f"{self.opens:%H:%M}–{self.closes:%H:%M}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingTable:
    """One bank's rails, preferences and calendar."""

    bank: str
    timezone: ZoneInfo
    rails: tuple[Rail, ...]
    urgent: tuple[str, ...]  # rail ids, most preferred first
    normal: tuple[str, ...]
    holidays: frozenset[date]
    workdays: frozenset[date]  # weekend days worked (调休)

    def rail(self, rail_id: str) -> Rail:
        """The rail with this id."""
        return next(r for r in self.rails if r.id == rail_id)

    def is_business_day(self, day: date) -> bool:
        """Monday to Friday, not a holiday; or a make-up working day."""
        return day in self.workdays or (day.weekday() < 5 and day not in self.holidays)


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """The rail chosen for one payment, why, and when it can leave."""

    rail: str
    rail_name: str
    explanation: str  # one line: the rule that chose it
    considered: tuple[str, ...]  # each rail looked at, with why it was or was not taken
    departs_at: datetime  # now, or the rail's next opening


def choose_route(table: RoutingTable, *, same_bank: bool, amount: Money, urgent: bool,
                 at: datetime) -> Route:
    """The rail for a payment of `amount` made at `at`.

    Raises:
        ValueError: no rail of the table can carry the payment at all.
    """
    local = at.astimezone(table.timezone)
    waiting: tuple[Rail, datetime] | None = None
    considered: list[str] = []
    for rail_id in table.urgent if urgent else table.normal:
        rail = table.rail(rail_id)
        refusal = _refusal(rail, same_bank, amount)
        if refusal:
            considered.append(f"{rail.id}: {refusal}")
            continue
        opening = _next_opening(table, rail, local)
        if opening == local:
            considered.append(f"{rail.id}: taken, open now ({rail.hours()})")
            return Route(rail=rail.id, rail_name=rail.name, considered=tuple(considered),
                         explanation=_why(rail, amount, urgent, considered),
                         departs_at=at)
        considered.append(f"{rail.id}: closed now ({rail.hours()}, {rail.days.value} days), "
                          f"opens {opening:%Y-%m-%d %H:%M}")
        waiting = waiting or (rail, opening)
    if waiting is None:
        raise ValueError(f"{table.bank}: no rail carries {amount} "
                         f"({'; '.join(considered)})")
    rail, opening = waiting
    why = _why(rail, amount, urgent, considered)
    return Route(rail=rail.id, rail_name=rail.name, considered=tuple(considered),
                 explanation=f"{why}; waits for it to open at {opening:%Y-%m-%d %H:%M}",
                 departs_at=opening.astimezone(at.tzinfo))


def _refusal(rail: Rail, same_bank: bool, amount: Money) -> str | None:
    if rail.same_bank and not same_bank:
        return "only for payees at the same bank"
    if not rail.same_bank and same_bank:
        return None  # an interbank rail may carry a same-bank payment, if preferred
    if rail.max_amount is not None and amount > rail.max_amount:
        return f"{amount} is above its per-payment limit of {rail.max_amount}"
    if rail.min_amount is not None and amount < rail.min_amount:
        return f"{amount} is below its minimum of {rail.min_amount}"
    return None


def _why(rail: Rail, amount: Money, urgent: bool, skipped: Sequence[str]) -> str:
    """`same bank → …`, or `urgent, 80000.00 CNY (ibps: … above its limit …) within … → …`."""
    if rail.same_bank:
        return f"same bank → {rail.name}"
    passed = [s for s in skipped if "limit" in s or "minimum" in s]
    because = f" ({'; '.join(passed)})" if passed else ""
    hours = " at any hour" if rail.all_day else f" within {rail.hours()}"
    return f"{'urgent' if urgent else 'not urgent'}, {amount}{because}{hours} → {rail.name}"


def _next_opening(table: RoutingTable, rail: Rail, local: datetime) -> datetime:
    """`local` itself when the rail is open then, else its next opening (local time)."""
    for days in range(0, 31):
        day = local.date() + timedelta(days=days)
        if rail.days is Days.BUSINESS and not table.is_business_day(day):
            continue
        if rail.all_day:
            return local if days == 0 else datetime.combine(day, time(0), local.tzinfo)
        opens = datetime.combine(day, rail.opens, local.tzinfo)
        closes = datetime.combine(day, rail.closes, local.tzinfo)
        if days == 0 and opens <= local < closes:
            return local
        if local < opens:
            return opens
    raise ValueError(f"{table.bank}: rail {rail.id} does not open in the next 31 days")

