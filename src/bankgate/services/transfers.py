"""Internal transfers and cash pooling (资金调拨): between our own accounts, across banks too.

A transfer's out-leg is a payment order (flow `internal_transfer`, routed as urgent); its
in-leg is the credit on the target account, looked for in the target bank's entries by the
order's instruction id (`follow_transfers`). Sweep rules (a TOML file: the header account
and one rule per pooled account) are evaluated on balances fetched now, never on stored
ones; a rule either runs its move or proposes it for a person to approve, and a rule whose
account already has a transfer on its way waits for it.
"""

from __future__ import annotations

import secrets
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from bankgate.connectors.base import Channel
from bankgate.domain import (
    AccountId,
    CompanyAccount,
    FlowType,
    Money,
    Payee,
    PaymentOrder,
    Status,
    currency,
    parse_amount,
)
from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.transfers import (
    TRANSFER_NEXT,
    Move,
    SweepRule,
    Transfer,
    TransferState,
    plan_move,
)
from bankgate.errors import ChannelError, ConfigError, DomainError
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.cash import AccountCash, fetch_balances
from bankgate.services.flows_orders import pay_as_own_batches
from bankgate.services.intake import OrderDraft
from bankgate.store import UnitOfWork

__all__ = ["SweepPlan", "SweepRun", "decide_transfer", "follow_transfers", "load_sweep_plan",
           "sweep", "transfer"]

BANK_TZ: Final = ZoneInfo("Asia/Shanghai")
OPEN: Final = (TransferState.PROPOSED, TransferState.ORDERED, TransferState.SENT)
_FAILED_ORDER: Final = (Status.REJECTED, Status.RETURNED, Status.CANCELLED)
RequiresApproval = Callable[[Move], bool]


class InvalidTransfer(DomainError):
    """A transfer that cannot be made (same account, other currency, not ours)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPlan:
    """The pool: its header account and the rules of its member accounts."""

    header: AccountId
    rules: tuple[SweepRule, ...]


@dataclass
class SweepRun:
    """What one sweep did: each rule's outcome in one line, and the transfers made."""

    outcomes: list[str] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)


def load_sweep_plan(source: Path | Mapping[str, Any]) -> SweepPlan:
    """Sweep rules from a TOML file or a mapping; ConfigError naming the key at fault."""
    origin = str(source) if isinstance(source, Path) else "sweep rules"
    try:
        data = tomllib.loads(source.read_text("utf-8")) if isinstance(source, Path) else source
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{origin}: cannot read the sweep rules: {exc}") from exc
    header, raw = data.get("header"), data.get("rule")
    if not isinstance(header, str) or not isinstance(raw, list) or not raw:
        raise ConfigError(f"{origin}: needs header = \"<account id>\" and [[rule]] tables")
    rules = tuple(_rule(item, f"{origin}: rule[{i}]") for i, item in enumerate(raw))
    if any(r.account == header for r in rules):
        raise ConfigError(f"{origin}: the header account {header} cannot have a rule of its own")
    return SweepPlan(header=AccountId(header), rules=rules)


def _rule(raw: Any, where: str) -> SweepRule:
    allowed = {"id", "account", "currency", "target", "sweep_above", "top_up_below", "execute"}
    if not isinstance(raw, dict) or set(raw) - allowed:
        extra = sorted(set(raw) - allowed) if isinstance(raw, dict) else ["(not a table)"]
        raise ConfigError(f"{where}: unknown key {extra[0]} ({', '.join(sorted(allowed))})")
    try:
        cur = currency(str(raw.get("currency", "CNY")))
        amounts = {k: parse_amount(raw[k], cur, field=f"{where}.{k}") if k in raw else None
                   for k in ("target", "sweep_above", "top_up_below")}
    except DomainError as exc:
        raise ConfigError(str(exc)) from exc
    target = amounts["target"]
    if target is None or not isinstance(raw.get("id"), str) or not isinstance(
            raw.get("account"), str):
        raise ConfigError(f"{where}: needs id, account and target")
    above, below = amounts["sweep_above"], amounts["top_up_below"]
    if (above is not None and above < target) or (below is not None and below > target):
        raise ConfigError(f"{where}: needs top_up_below ≤ target ≤ sweep_above")
    return SweepRule(id=raw["id"], account=AccountId(raw["account"]), target=target,
                     sweep_above=above, top_up_below=below, execute=raw.get("execute") is True)


def transfer(*, uow: UowFactory, source_id: str, target_id: str, amount: Money, actor: str,
             now: Callable[[], datetime], today: date, reason: str = "manual transfer",
             rule_id: str | None = None, execute: bool = True) -> Transfer:
    """Move `amount` from one of our accounts to another (ordered now, or only proposed)."""
    def work(unit: UnitOfWork) -> Transfer:
        source, target = unit.accounts.get(source_id), unit.accounts.get(target_id)
        _check(source, target, amount)
        at = now()
        made = Transfer(id=f"tr_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(8)}",
                        source=source.id, target=target.id, amount=amount,
                        state=TransferState.PROPOSED, reason=reason, rule_id=rule_id,
                        order_id=None, in_reference=None, failure=None, version=1,
                        created_at=at, updated_at=at)
        unit.flows.transfers.add(made)
        _audit(unit, made, None, actor, at)
        return _order(unit, made, source, target, actor, at, today) if execute else made

    return in_transaction(uow, work)


def _check(source: CompanyAccount, target: CompanyAccount, amount: Money) -> None:
    if source.id == target.id:
        raise InvalidTransfer(f"a transfer needs two accounts; {source.id} was given twice")
    if source.currency != target.currency or amount.currency != source.currency:
        raise InvalidTransfer(f"{source.id} is in {source.currency}, {target.id} in "
                              f"{target.currency}, the amount in {amount.currency}")
    if not amount.is_positive:
        raise InvalidTransfer(f"amount: must be greater than zero, got {amount.amount}")


def _order(unit: UnitOfWork, made: Transfer, source: CompanyAccount, target: CompanyAccount,
           actor: str, at: datetime, today: date) -> Transfer:
    draft = OrderDraft(debtor=source, payee=Payee(name=target.name, account=target.number,
                                                  bank=target.bank),
                       amount=made.amount, execution_date=today,
                       remittance=f"资金调拨 {made.id}", flow=FlowType.INTERNAL_TRANSFER,
                       instruction_id=None, where=made.id)
    [order] = pay_as_own_batches(unit, [draft], actor=actor, at=at, source="transfer",
                                 urgent=True)
    return _move(unit, made, TransferState.ORDERED, actor, at, order_id=order.id)


def _move(unit: UnitOfWork, before: Transfer, to: TransferState, actor: str, at: datetime,
          **changes: Any) -> Transfer:
    if to not in TRANSFER_NEXT[before.state]:
        raise InvalidTransfer(f"transfer {before.id} is {before.state.value} and cannot "
                              f"become {to.value}")
    after = replace(before, state=to, version=before.version + 1, updated_at=at, **changes)
    unit.flows.transfers.save(after, expected_version=before.version)
    _audit(unit, after, before, actor, at)
    return after


def _audit(unit: UnitOfWork, after: Transfer, before: Transfer | None, actor: str,
           at: datetime) -> None:
    unit.audit.append(AuditRecord(
        at=at, actor=actor, action="transfer.created" if before is None else
        "transfer.transition", subject_kind="transfer", subject_id=after.id,
        from_status=before.state.value if before else None, to_status=after.state.value,
        detail={"amount": str(after.amount), "from": after.source, "to": after.target,
                "reason": after.reason, "order": after.order_id, "failure": after.failure}))


def decide_transfer(*, uow: UowFactory, transfer_id: str, approve: bool, actor: str,
                    now: Callable[[], datetime], today: date) -> Transfer:
    """Run a proposed transfer (approve) or decline it."""
    def work(unit: UnitOfWork) -> Transfer:
        proposed = unit.flows.transfers.get(transfer_id)
        if not approve:
            return _move(unit, proposed, TransferState.DECLINED, actor, now())
        if proposed.state is not TransferState.PROPOSED:
            raise InvalidTransfer(f"transfer {transfer_id} is {proposed.state.value}, not "
                                  "proposed")
        return _order(unit, proposed, unit.accounts.get(proposed.source),
                      unit.accounts.get(proposed.target), actor, now(), today)

    return in_transaction(uow, work)


def sweep(*, uow: UowFactory, channels: Mapping[str, Channel], plan: SweepPlan,
          now: Callable[[], datetime], today: date, actor: str = "system:sweep",
          requires_approval: RequiresApproval | None = None) -> SweepRun:
    """Evaluate every rule on balances fetched now; run or propose the moves they call for."""
    cash = {c.account.id: c for c in fetch_balances(uow=uow, channels=channels, now=now)}
    with uow() as unit:
        busy = {a for t in unit.flows.transfers.query(states=OPEN) for a in (t.source, t.target)}
    run = SweepRun()
    header = cash.get(plan.header)
    for rule in plan.rules:
        outcome, move = _plan(rule, plan.header, cash, busy)
        if move is not None and move.source == plan.header and not _funds(header, move):
            outcome, move = (f"{rule.id}: the header {plan.header} cannot fund a top-up of "
                             f"{move.amount}"), None
        if move is None:
            run.outcomes.append(outcome)
            continue
        execute = rule.execute and not (requires_approval and requires_approval(move))
        made = transfer(uow=uow, source_id=move.source, target_id=move.target,
                        amount=move.amount, actor=actor, now=now, today=today,
                        reason=move.reason, rule_id=rule.id, execute=execute)
        busy |= {move.source, move.target}
        run.transfers.append(made)
        run.outcomes.append(f"{rule.id}: {'ordered' if execute else 'proposed'} — "
                            f"{move.reason}")
    return run


def _plan(rule: SweepRule, header: AccountId, cash: Mapping[AccountId, AccountCash],
          busy: set[AccountId]) -> tuple[str, Move | None]:
    found = cash.get(rule.account)
    if found is None or found.error:
        why = found.error if found is not None else "not one of our accounts"
        return f"{rule.id}: no fresh balance for {rule.account} ({why}); nothing moved", None
    if rule.account in busy:
        return f"{rule.id}: a transfer of {rule.account} is on its way; waiting for it", None
    balance = _available(found)
    move = plan_move(rule, balance, header=header) if balance is not None else None
    if move is None:
        return f"{rule.id}: balance {balance} is within its bounds; nothing to move", None
    return "", move


def _funds(header: AccountCash | None, move: Move) -> bool:
    available = _available(header) if header is not None else None
    return available is not None and available >= move.amount


def _available(cash: AccountCash) -> Money | None:
    return cash.available if cash.available is not None else cash.ledger


def follow_transfers(*, uow: UowFactory, channels: Mapping[str, Channel],
                     now: Callable[[], datetime]) -> dict[str, int]:
    """Advance open transfers: the out-leg by its order, the in-leg by the target's entries."""
    with uow() as unit:
        open_ = unit.flows.transfers.query(states=(TransferState.ORDERED, TransferState.SENT))
        orders = {o.id: o for o in unit.orders.get_many([t.order_id for t in open_
                                                         if t.order_id])}
        accounts = {a.id: a for a in unit.accounts.all()}
    moved: dict[str, int] = {}
    for item in open_:
        order = orders.get(item.order_id) if item.order_id else None
        if order is None:
            continue
        to, changes = _next(item, order, accounts[item.target], channels)
        if to is None or to is item.state:
            continue
        in_transaction(uow, lambda unit, t=item, s=to, c=changes: _move(
            unit, unit.flows.transfers.get(t.id), s, "system:transfers", now(), **c))
        moved[to.value] = moved.get(to.value, 0) + 1
    return moved


def _next(item: Transfer, order: PaymentOrder, target: CompanyAccount,
          channels: Mapping[str, Channel]) -> tuple[TransferState | None, dict[str, Any]]:
    if order.status in _FAILED_ORDER:
        return TransferState.FAILED, {"failure": f"{order.reason_code or 'NARR'}: "
                                                 f"{order.reason or order.status.value}"}
    if order.status is not Status.SETTLED:
        return None, {}
    reference = _credit(item, order, target, channels)
    if reference is None:
        return TransferState.SENT, {}
    return TransferState.COMPLETED, {"in_reference": reference}


def _credit(item: Transfer, order: PaymentOrder, target: CompanyAccount,
            channels: Mapping[str, Channel]) -> str | None:
    """The target bank's serial of the in-leg credit, if it is booked yet."""
    channel = channels.get(target.bank)
    if channel is None:
        return None
    since = item.created_at.astimezone(BANK_TZ).date() - timedelta(days=1)
    until = datetime.now(BANK_TZ).date()
    try:
        entries = list(channel.transactions(target, since, until))
    except ChannelError:
        return None
    for entry in entries:
        if entry.instruction_id == order.instruction_id and entry.amount == item.amount:
            return entry.bank_reference
    return None

