"""The `[sync]`, `[recon]` and `[reports]` sections of the configuration, checked key by key.

```toml
[sync]
intraday = "*/15 8-18 * * 1-5"     # cron (croniter), in the banks' time zone
statements = "30 6 * * *"          # end-of-day statements of the days before
lookback_days = 7                  # how far back the first sync and gap search reach
history_from = 2026-11-01          # optional: no statement is expected before this day
pending_lapse_days = 3             # a pending entry not booked this many bank days on lapses
timezone = "Asia/Shanghai"         # the banks' business day

[recon]
auto_confirm_threshold = 90        # MatchConfig fields (domain/recon.py)
date_window_days = 3

[reports]
currency = "CNY"                   # the reporting currency
fx = { USD = "7.1000", EUR = "7.7500" }   # 1 unit of the key = this many reporting units
entities = { icbc-cny = "示例科技有限公司" }   # account id → legal entity
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from bankgate.domain import currency
from bankgate.domain.recon import MatchConfig
from bankgate.errors import BankgateError, ConfigError

__all__ = ["FINANCE_SECTIONS", "FinanceConfig", "ReportSettings", "SyncConfig", "finance_config"]


FINANCE_SECTIONS = ("sync", "recon", "reports")


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncConfig:
    """When and how far back statements are fetched."""

    intraday: str = "*/30 8-18 * * 1-5"
    statements: str = "30 6 * * *"
    lookback_days: int = 7
    timezone: str = "Asia/Shanghai"
    #: The first day statements are expected (the accounts were connected); days before it
    #: are neither fetched nor missing. None: the look-back window alone decides.
    history_from: date | None = None
    #: A pending (intraday) entry the bank has not booked by the time statements are held for
    #: this many days after its own stops waiting: it is marked lapsed and a person is asked.
    pending_lapse_days: int = 3

    @property
    def zone(self) -> ZoneInfo:
        """The banks' time zone (their business day)."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSettings:
    """Reporting currency, FX rates into it (data, not fetched) and legal entities."""

    currency: str = "CNY"
    fx: Mapping[str, Decimal] = field(default_factory=dict)
    entities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FinanceConfig:
    """Sync, reconciliation and report settings."""

    sync: SyncConfig = field(default_factory=SyncConfig)
    recon: MatchConfig = field(default_factory=MatchConfig)
    reports: ReportSettings = field(default_factory=ReportSettings)


def finance_config(config: Mapping[str, Any]) -> FinanceConfig:
    """The three sections of a configuration mapping; ConfigError names the bad key."""
    return FinanceConfig(sync=_sync(_table(config, "sync")),
                         recon=_recon(_table(config, "recon")),
                         reports=_reports(_table(config, "reports")))


def _table(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    raw = config.get(name, {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name}: expected a table")
    return raw


def _known(raw: Mapping[str, Any], section: str, allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{section}: unknown key {unknown[0]!r} ({', '.join(sorted(allowed))})")


def _sync(raw: Mapping[str, Any]) -> SyncConfig:
    _known(raw, "sync", {f.name for f in fields(SyncConfig)})
    for key in ("intraday", "statements"):
        if key in raw and (not isinstance(raw[key], str) or not croniter.is_valid(raw[key])):
            raise ConfigError(f"sync.{key}: {raw[key]!r} is not a cron expression")
    days = raw.get("lookback_days", 7)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise ConfigError(f"sync.lookback_days: {days!r} is not a whole number from 1 to 366")
    lapse = raw.get("pending_lapse_days", 3)
    if isinstance(lapse, bool) or not isinstance(lapse, int) or not 1 <= lapse <= 60:
        raise ConfigError(f"sync.pending_lapse_days: {lapse!r} is not a whole number from 1 "
                          "to 60")
    try:
        ZoneInfo(str(raw.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"sync.timezone: {raw.get('timezone')!r} is not a time zone") from exc
    return SyncConfig(**{**raw, "history_from": _day(raw.get("history_from"),
                                                     "sync.history_from")})


def _day(value: object, where: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc


def _recon(raw: Mapping[str, Any]) -> MatchConfig:
    allowed = {f.name for f in fields(MatchConfig)} - {"rules"}
    _known(raw, "recon", allowed)
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"recon.{key}: {value!r} is not a whole number")
    try:
        return MatchConfig(**raw)
    except BankgateError as exc:
        raise ConfigError(f"recon: {exc}") from exc


def _reports(raw: Mapping[str, Any]) -> ReportSettings:
    _known(raw, "reports", {"currency", "fx", "entities"})
    code = str(raw.get("currency", "CNY"))
    try:
        currency(code)
    except BankgateError as exc:
        raise ConfigError(f"reports.currency: {exc}") from exc
    rates: dict[str, Decimal] = {}
    for key, text in _table(raw, "fx").items():
        try:
            rate = Decimal(text) if isinstance(text, str) else Decimal("NaN")
        except InvalidOperation:
            rate = Decimal("NaN")
        if not rate.is_finite() or rate <= 0:
            raise ConfigError(f"reports.fx.{key}: {text!r} is not a positive decimal string")
        rates[str(key)] = rate
    entities = {str(k): str(v) for k, v in _table(raw, "entities").items()}
    return ReportSettings(currency=code, fx=rates, entities=entities)
