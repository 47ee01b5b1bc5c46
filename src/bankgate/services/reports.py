"""Treasury reports (资金报表) from the store: each a `Report` of typed rows, so the CLI table,
CSV, Excel and charts all show the same figures.

- cash position (资金头寸) across banks, entities and currencies, converted into the reporting
  currency at the FX rates given as data, with how fresh each account's figure is;
- a short forecast (资金预测): cash plus expected receipts minus approved-but-unpaid orders;
- daily balance history per account (from the end-of-day statements);
- payment status summary; reconciliation rate and exception aging.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from bankgate.domain import Money, Status, currency
from bankgate.services._tx import UowFactory
from bankgate.services.finance_config import ReportSettings, SyncConfig
from bankgate.services.recon_summary import recon_summary

__all__ = ["UNPAID", "Report", "all_reports", "balance_history", "cash_position", "forecast",
           "payment_status", "recon_report"]

Cell = str | int | Decimal | date | None
#: Approved but not yet paid: money that will leave (forecast outflows).
UNPAID = (Status.APPROVED, Status.RELEASED, Status.SUBMITTED,
          Status.AWAITING_BANK_CONFIRMATION, Status.UNKNOWN)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A titled table: columns (English / 中文) and typed rows, plus totals and notes."""

    name: str  # file stem: cash_position, forecast, ...
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # figures a chart needs


def _amount(minor: int, code: str) -> Decimal:
    return Money.from_minor(minor, currency(code)).amount


def _convert(amount: Decimal, code: str, settings: ReportSettings) -> Decimal | None:
    """Into the reporting currency, quantised to it (ROUND_HALF_EVEN); None without a rate."""
    if code == settings.currency:
        return amount
    rate = settings.fx.get(code)
    if rate is None:
        return None
    return (amount * rate).quantize(currency(settings.currency).quantum)


def cash_position(*, uow: UowFactory, settings: ReportSettings, zone: Any,
                  now: Callable[[], datetime]) -> Report:
    """Each account's latest figure (bank balance, else last statement), converted, with age."""
    at = now()
    with uow() as unit:
        accounts = unit.accounts.all()
        latest = unit.reports.latest_balances()
        closings = {a.id: unit.reports.daily_closings(a.id, since=date.min) for a in accounts}
    rows, missing = [], set()
    total = Decimal(0).quantize(currency(settings.currency).quantum)
    by_bank: dict[str, Decimal] = defaultdict(Decimal)
    for a in sorted(accounts, key=lambda x: (x.bank, x.id)):
        amount, as_of, source = _figure(a.id, a.currency.code, latest, closings, zone)
        converted = _convert(amount, a.currency.code, settings) if amount is not None else None
        if amount is not None and converted is None:
            missing.add(a.currency.code)
        if converted is not None:
            total += converted
            by_bank[a.bank] += converted
        age = _age(at - as_of) if as_of else "never fetched"
        rows.append((a.bank, settings.entities.get(a.id, a.name), a.id, a.currency.code,
                     amount, converted, as_of.isoformat(timespec="minutes") if as_of else None,
                     age, source))
    notes = [f"no FX rate for {code}: left out of the total" for code in sorted(missing)]
    rows.append(("total 合计", "", "", settings.currency, None, total, None, "", ""))
    return Report(name="cash_position", title=f"Cash position 资金头寸 ({settings.currency})",
                  columns=("bank 银行", "entity 主体", "account 账户", "ccy 币种",
                           "balance 余额", f"in {settings.currency} 折算", "as of 截至 (UTC)",
                           "age 时效", "source 来源"),
                  rows=tuple(rows), notes=tuple(notes),
                  extra={"by_bank": dict(by_bank), "total": total,
                         "currency": settings.currency})


def _figure(account_id: str, code: str, latest: dict[str, dict[str, Any]],
            closings: dict[str, list[tuple[date, int, Any]]],
            zone: Any) -> tuple[Decimal | None, datetime | None, str]:
    snapshot = latest.get(account_id)
    days = closings.get(account_id) or []
    statement = days[-1] if days else None
    # A statement speaks for its day's end, or for when it was fetched if that was earlier.
    statement_as_of = (min(datetime.combine(statement[0] + timedelta(days=1), time(), zone),
                           statement[2]) if statement else None)
    if snapshot and (statement is None or snapshot["fetched_at"] >= statement[2]):
        return _amount(snapshot["amount_minor"], code), snapshot["as_of"], "bank balance 实时余额"
    if statement:
        return _amount(statement[1], code), statement_as_of, "statement 对账单"
    return None, None, "none"


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} d"


def forecast(*, uow: UowFactory, settings: ReportSettings, zone: Any,
             now: Callable[[], datetime], days: int = 7) -> Report:
    """Cash today, plus expected receipts, minus approved-but-unpaid orders, day by day."""
    today = now().astimezone(zone).date()
    start = cash_position(uow=uow, settings=settings, zone=zone, now=now).extra["total"]
    with uow() as unit:
        orders = unit.reports.orders_in([s.value for s in UNPAID])
        receipts = [i for i in unit.recon.open_items() if i["kind"] == "receipt"]
    outflow, inflow = _by_day(orders, "execution_date", settings, today, sign=-1), \
        _by_day(receipts, "expected_date", settings, today, sign=1, key="open_minor")
    quantum = currency(settings.currency).quantum  # exact already; this only shows 0.00
    rows, balance = [], start
    for n in range(days):
        day = today + timedelta(days=n)
        opening = balance
        balance = opening + inflow[day] + outflow[day]
        rows.append((day, *(v.quantize(quantum) for v in (opening, inflow[day], -outflow[day],
                                                           balance))))
    return Report(name="forecast", title=f"Cash forecast 资金预测 ({settings.currency}, {days} d)",
                  columns=("day 日期", "opening 期初", "receipts 预计收款",
                           "payments 待付款", "closing 期末"), rows=tuple(rows),
                  notes=("past-due receipts and payments count on the first day",),
                  extra={"currency": settings.currency})


def _by_day(rows: Sequence[dict[str, Any]], column: str, settings: ReportSettings, today: date,
            *, sign: int, key: str = "amount_minor") -> dict[date, Decimal]:
    out: dict[date, Decimal] = defaultdict(Decimal)
    for r in rows:
        converted = _convert(_amount(abs(r[key]), r["currency"]), r["currency"], settings)
        if converted is not None:
            out[max(r[column], today)] += sign * converted
    return out


def balance_history(*, uow: UowFactory, zone: Any, now: Callable[[], datetime],
                    days: int = 30) -> Report:
    """Each account's closing balance per day, from its end-of-day statements."""
    since = now().astimezone(zone).date() - timedelta(days=days - 1)
    rows = []
    with uow() as unit:
        for a in unit.accounts.all():
            for day, minor, _ in unit.reports.daily_closings(a.id, since=since):
                rows.append((day, a.id, a.currency.code, _amount(minor, a.currency.code)))
    rows.sort(key=lambda r: (r[1], r[0]))
    return Report(name="balance_history", title="Daily balances 每日余额",
                  columns=("day 日期", "account 账户", "ccy 币种", "closing 日终余额"),
                  rows=tuple(rows))


def payment_status(*, uow: UowFactory) -> Report:
    """Orders per status and currency: how many, how much."""
    with uow() as unit:
        found = unit.reports.orders_by_status()
    rows = tuple((status, code, count, _amount(minor, code))
                 for status, code, count, minor in found)
    return Report(name="payment_status", title="Payments by status 付款状态",
                  columns=("status 状态", "ccy 币种", "orders 笔数", "amount 金额"), rows=rows)


def recon_report(*, uow: UowFactory, zone: Any, now: Callable[[], datetime]) -> Report:
    """Match rate per account and exception aging."""
    rows = []
    with uow() as unit:
        ids = [a.id for a in unit.accounts.all()]
    overall = recon_summary(uow=uow, now=now, zone=zone)
    for account_id in sorted(ids):
        s = recon_summary(uow=uow, now=now, zone=zone, account_id=account_id)
        rows.append((account_id, s.lines, s.matched, s.rate_pct, *s.aging.values()))
    rows.append(("total 合计", overall.lines, overall.matched, overall.rate_pct,
                 *overall.aging.values()))
    return Report(name="reconciliation", title="Reconciliation 对账",
                  columns=("account 账户", "entries 流水", "matched 已匹配", "rate % 匹配率",
                           *(f"exceptions {b}" for b in overall.aging)),
                  rows=tuple(rows), extra={"aging": overall.aging, "rate": overall.rate_pct})


def all_reports(*, uow: UowFactory, settings: ReportSettings, sync: SyncConfig,
                now: Callable[[], datetime]) -> list[Report]:
    """Every report, in the order a treasurer reads them."""
    zone = sync.zone
    return [cash_position(uow=uow, settings=settings, zone=zone, now=now),
            forecast(uow=uow, settings=settings, zone=zone, now=now),
            balance_history(uow=uow, zone=zone, now=now),
            payment_status(uow=uow), recon_report(uow=uow, zone=zone, now=now)]
