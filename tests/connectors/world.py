"""A small sandbox world for connector tests, and builders of channels, orders and batches.

Every bank (icbc, cmb, boc — one per dialect) holds our company account, a payee, a closed
payee account, and nothing else; amounts are chosen so that each refusal has one reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bankgate.connectors.base import SubmitLine
from bankgate.connectors.hostapi import HostApiChannel, connect
from bankgate.domain import (
    AccountId,
    AccountNumber,
    Batch,
    BatchKey,
    BatchState,
    CompanyAccount,
    FlowType,
    Money,
    Payee,
    bank_id,
    currency,
    new_batch_id,
    new_instruction_id,
    new_order_id,
    new_payment_order,
    parse_amount,
)
from bankgate.sandbox.run import RunningSandbox
from bankgate.sandbox.world import AccountSpec, BankSpec, World

COMPANY = "示例科技有限公司"
BANKS = ("icbc", "cmb", "boc")
NUMBERS = {  # bank → (company, payee, closed payee)
    "icbc": ("6222020200001000001", "6222020200009000001", "6222020200009000002"),
    "cmb": ("6214830000001001", "6214830000009001", "6214830000009002"),
    "boc": ("6217850000001000001", "6217850000009000001", "6217850000009000002"),
}
PAYEE = "上海宏达贸易有限公司"
UNKNOWN_NUMBER = "6222020299999999999"
OPENING = "1000000.00"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def small_world() -> World:
    """Three banks, one per dialect, each with our account, a payee and a closed account."""
    accounts: list[AccountSpec] = []
    for bank in BANKS:
        ours, payee, closed = NUMBERS[bank]
        accounts += [
            AccountSpec(bank=bank, number=ours, holder=COMPANY, opening_balance=OPENING,
                        company=True),
            AccountSpec(bank=bank, number=payee, holder=PAYEE),
            AccountSpec(bank=bank, number=closed, holder="已销户有限公司", open=False)]
    return World(banks=tuple(BankSpec(id=b, dialect=b) for b in BANKS),
                 accounts=tuple(accounts), company=COMPANY, seed=1)


def open_bank(sandbox: RunningSandbox, bank: str, **options: Any) -> HostApiChannel:
    """A channel to `bank` with quick retries (tests must close it)."""
    offered = {k: v for k, v in sandbox.gateway_options(bank).items() if k != "kind"}
    config: dict[str, Any] = {**offered, "timeout_s": 2.0, "backoff_s": 0.01,
                              "max_total_s": 5.0}
    return connect(bank, {**config, **options})


def our_account(bank: str, number: str | None = None) -> CompanyAccount:
    """Our CNY account at `bank` (or another number there, for refusal tests)."""
    return CompanyAccount(id=AccountId(f"{bank}-cny"), bank=bank_id(bank),
                          number=AccountNumber.parse(number or NUMBERS[bank][0]),
                          currency=currency("CNY"), name=COMPANY)


def a_line(debtor: CompanyAccount, *, amount: str = "100.00", payee: str | None = None,
           name: str = PAYEE, payee_bank: str | None = None) -> SubmitLine:
    """One released order paying the bank's payee (or `payee`), with a fresh instruction id."""
    bank = payee_bank or debtor.bank
    account = AccountNumber.parse(payee or NUMBERS[bank][1])
    order = new_payment_order(
        id=new_order_id(), instruction_id=new_instruction_id(), flow=FlowType.SUPPLIER,
        debtor=debtor, payee=Payee(name=name, account=account, bank=bank_id(bank)),
        amount=parse_amount(amount, debtor.currency), execution_date=date(2026, 11, 23),
        remittance="INV-2026-001", at=NOW)
    return SubmitLine(order=order, payee=order.payee)


def a_batch(debtor: CompanyAccount, lines: list[SubmitLine], *,
            cur: str | None = None) -> Batch:
    """A batch of `lines` drawn on `debtor` (in another currency when `cur` says so)."""
    code = currency(cur) if cur else debtor.currency
    total = sum((line.order.amount.amount for line in lines), Decimal(0))
    return Batch(id=new_batch_id(), key=BatchKey(debtor.id, debtor.bank, code, date(2026, 11, 23)),
                 order_ids=tuple(line.order.id for line in lines),
                 instruction_ids=tuple(line.order.instruction_id for line in lines),
                 total=Money(total, code), state=BatchState.READY, version=1, created_at=NOW)


def bookings(sandbox: RunningSandbox, line: SubmitLine) -> int:
    """How many times the bank debited for this order (INV-1: at most once)."""
    return sandbox.ledger.debit_bookings().get(line.order.instruction_id, 0)
