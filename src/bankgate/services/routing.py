"""Routing: which rail each payment travels on, chosen from each bank's table and stored.

Tables are data (services/data/routing/<bank>.toml, `default.toml` for banks without one),
validated on load (ConfigError naming the file and key). `route_orders` decides for orders
already made and stores the choice with its explanation beside each order; the flows
(payroll, claims, transfers) route their orders as they create them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bankgate.domain import CompanyAccount, PaymentOrder, currency, parse_amount
from bankgate.domain.routing import Days, Rail, Route, RoutingTable, choose_route
from bankgate.errors import ConfigError, DomainError
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.store import UnitOfWork

__all__ = ["load_table", "route_for", "route_orders", "routing_table", "store_routes"]

_RAIL_KEYS: Final = {"id", "name", "same_bank", "days", "opens", "closes", "min_amount",
                     "max_amount", "currency"}
_TABLE_KEYS: Final = {"timezone", "urgent", "normal", "holidays", "workdays", "rail"}


@cache
def routing_table(bank: str) -> RoutingTable:
    """The built-in table of `bank` (or the default one), loaded once."""
    folder = resources.files("bankgate.services").joinpath("data", "routing")
    name = f"{bank}.toml" if folder.joinpath(f"{bank}.toml").is_file() else "default.toml"
    text = folder.joinpath(name).read_text("utf-8")
    return _table(bank, tomllib.loads(text), f"routing/{name}")


def load_table(bank: str, path: Path) -> RoutingTable:
    """A routing table from a file; ConfigError naming the file and the key at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the routing table: {exc}") from exc
    return _table(bank, data, str(path))


def _table(bank: str, data: Mapping[str, Any], origin: str) -> RoutingTable:
    unknown = sorted(set(data) - _TABLE_KEYS)
    if unknown:
        raise ConfigError(f"{origin}: {unknown[0]}: unknown key ({', '.join(sorted(_TABLE_KEYS))})")
    try:
        zone = ZoneInfo(str(data.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{origin}: timezone: {data.get('timezone')!r} is unknown") from exc
    raw_rails = data.get("rail")
    if not isinstance(raw_rails, list) or not raw_rails:
        raise ConfigError(f"{origin}: needs at least one [[rail]]")
    rails = tuple(_rail(r, f"{origin}: rail[{i}]") for i, r in enumerate(raw_rails))
    ids = [r.id for r in rails]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{origin}: rail ids must be unique, got {ids}")
    prefs = {key: _prefs(data, key, ids, origin) for key in ("urgent", "normal")}
    return RoutingTable(bank=bank, timezone=zone, rails=rails, urgent=prefs["urgent"],
                        normal=prefs["normal"], holidays=_dates(data, "holidays", origin),
                        workdays=_dates(data, "workdays", origin))


def _rail(raw: Any, where: str) -> Rail:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(raw) - _RAIL_KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key")
    try:
        cur = currency(str(raw.get("currency", "CNY")))
        limits = {k: parse_amount(raw[k], cur, field=f"{where}.{k}") if k in raw else None
                  for k in ("min_amount", "max_amount")}
        return Rail(id=_word(raw, "id", where), name=_word(raw, "name", where),
                    same_bank=bool(raw.get("same_bank", False)), days=Days(raw.get("days")),
                    opens=_time(raw, "opens", where), closes=_time(raw, "closes", where),
                    **limits)
    except (DomainError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _word(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: expected text")
    return value


def _time(raw: Mapping[str, Any], key: str, where: str) -> time:
    try:
        return time.fromisoformat(_word(raw, key, where))
    except ValueError as exc:
        raise ConfigError(f"{where}.{key}: {raw.get(key)!r} is not HH:MM") from exc


def _prefs(data: Mapping[str, Any], key: str, ids: Sequence[str], origin: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value or any(v not in ids for v in value):
        raise ConfigError(f"{origin}: {key}: expected a list of rail ids from {ids}")
    return tuple(value)


def _dates(data: Mapping[str, Any], key: str, origin: str) -> frozenset[date]:
    try:
        return frozenset(date.fromisoformat(str(d)) for d in data.get(key, []))
    except ValueError as exc:
        raise ConfigError(f"{origin}: {key}: {exc}") from exc


def route_for(order: PaymentOrder, debtor: CompanyAccount, *, urgent: bool, at: datetime,
              tables: Callable[[str], RoutingTable] = routing_table) -> Route:
    """The rail for `order` drawn on `debtor`."""
    same_bank = order.payee.bank in (None, debtor.bank)
    return choose_route(tables(debtor.bank), same_bank=same_bank, amount=order.amount,
                        urgent=urgent, at=at)


def store_routes(unit: UnitOfWork, orders: Sequence[PaymentOrder],
                 debtors: Mapping[str, CompanyAccount], *, urgent: bool, at: datetime) -> None:
    """Route each order and store the choice beside it (in the caller's transaction)."""
    unit.flows.routes.put_many([(o.id, route_for(o, debtors[o.debtor], urgent=urgent, at=at),
                                 urgent) for o in orders], at=at)


def route_orders(*, uow: UowFactory, order_ids: Sequence[str], urgent: bool,
                 now: Callable[[], datetime]) -> list[Route]:
    """Route orders already made (again, if they were routed before); stored."""
    def work(unit: UnitOfWork) -> list[Route]:
        orders = unit.orders.get_many(list(order_ids))
        found = {o.id for o in orders}
        missing = [i for i in order_ids if i not in found]
        if missing:
            unit.orders.get(missing[0])  # raises NotFound naming it
        debtors = {a.id: a for a in unit.accounts.all()}
        at = now()
        routes = [route_for(o, debtors[o.debtor], urgent=urgent, at=at) for o in orders]
        unit.flows.routes.put_many([(o.id, r, urgent) for o, r in zip(orders, routes,
                                                                      strict=True)], at=at)
        by_id = dict(zip([o.id for o in orders], routes, strict=True))
        return [by_id[i] for i in order_ids]

    return in_transaction(uow, work)
