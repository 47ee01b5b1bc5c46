"""Double-entry postings for confirmed reconciliation matches (记账凭证), balanced by construction.

Amounts are signed minor units: a debit (借) is positive, a credit (贷) negative. For a match
of bank lines (their sum `L`, signed as the bank booked it) to items settled by amounts `a_i`
(signed the same way), the voucher is

    bank account          +L            (money in: debit the bank; money out: credit it)
    each item's account   −a_i          (a payment settles a payable: debit it, ...)
    bank fees             −(L − Σ a_i)  (what the bank kept: debit fees)

and its lines add up to zero whatever the figures: the fee line is computed as the balance of
the others. Account codes follow the Chinese chart of accounts (企业会计准则 一级科目) by
default and can be configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from bankgate.domain.errors import InvalidField
from bankgate.domain.recon import OpenItemKind

__all__ = ["DEFAULT_CHART", "LedgerAccount", "LedgerRole", "Posting", "Settled", "VoucherDraft",
           "bank_ledger_account", "role_of", "voucher_for"]


class LedgerRole(StrEnum):
    """What a counter account is for."""

    PAYABLE = "payable"  # 应付账款: suppliers
    RECEIVABLE = "receivable"  # 应收账款: customers
    EMPLOYEE_PAYABLE = "employee_payable"  # 其他应付款-员工: reimbursements, claims
    PAYROLL = "payroll"  # 应付职工薪酬: salaries
    TAX = "tax"  # 应交税费
    CLEARING = "clearing"  # 资金调拨在途: internal transfers between our own accounts
    FEES = "fees"  # 财务费用-手续费: bank fees


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    """A general-ledger account: its code and name (科目编码, 科目名称)."""

    code: str
    name: str


DEFAULT_CHART: Mapping[LedgerRole, LedgerAccount] = MappingProxyType({
    LedgerRole.PAYABLE: LedgerAccount("2202", "应付账款"),
    LedgerRole.RECEIVABLE: LedgerAccount("1122", "应收账款"),
    LedgerRole.EMPLOYEE_PAYABLE: LedgerAccount("2241.01", "其他应付款-员工报销"),
    LedgerRole.PAYROLL: LedgerAccount("2211", "应付职工薪酬"),
    LedgerRole.TAX: LedgerAccount("2221", "应交税费"),
    LedgerRole.CLEARING: LedgerAccount("1012.09", "其他货币资金-资金调拨在途"),
    LedgerRole.FEES: LedgerAccount("6603.01", "财务费用-手续费"),
})

_FLOW_ROLES: Mapping[str, LedgerRole] = MappingProxyType({
    "supplier": LedgerRole.PAYABLE, "payroll": LedgerRole.PAYROLL,
    "reimbursement": LedgerRole.EMPLOYEE_PAYABLE, "tax": LedgerRole.TAX,
    "internal_transfer": LedgerRole.CLEARING, "other": LedgerRole.PAYABLE,
})
_KIND_ROLES: Mapping[OpenItemKind, LedgerRole] = MappingProxyType({
    OpenItemKind.RECEIPT: LedgerRole.RECEIVABLE, OpenItemKind.CLAIM: LedgerRole.EMPLOYEE_PAYABLE,
    OpenItemKind.TRANSFER_OUT: LedgerRole.CLEARING, OpenItemKind.TRANSFER_IN: LedgerRole.CLEARING,
    OpenItemKind.FEE: LedgerRole.FEES,
})


def role_of(kind: OpenItemKind, flow: str | None) -> LedgerRole:
    """The counter account's role for an item: by kind, and for payments by their flow."""
    if kind in _KIND_ROLES:
        return _KIND_ROLES[kind]
    return _FLOW_ROLES.get(flow or "supplier", LedgerRole.PAYABLE)


def bank_ledger_account(account_id: str, bank: str) -> LedgerAccount:
    """The bank-deposit sub-account of one of our accounts (银行存款-<bank>-<account>)."""
    return LedgerAccount(f"1002.{account_id}"[:40], f"银行存款-{bank}-{account_id}")


@dataclass(frozen=True, slots=True)
class Posting:
    """One voucher line: account and signed amount (debit +, credit −)."""

    account: LedgerAccount
    amount_minor: int
    memo: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """What a match settles of one item: its kind, the payment's flow, the signed amount."""

    kind: OpenItemKind
    flow: str | None
    amount_minor: int
    memo: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VoucherDraft:
    """The postings of one match; their amounts add up to zero."""

    summary: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if sum(p.amount_minor for p in self.postings) != 0:
            raise InvalidField(f"voucher {self.summary!r} does not balance")
        if any(p.amount_minor == 0 for p in self.postings):
            raise InvalidField(f"voucher {self.summary!r} has a zero line")


def voucher_for(*, bank: LedgerAccount, lines_total_minor: int, settled: Sequence[Settled],
                summary: str, chart: Mapping[LedgerRole, LedgerAccount] = DEFAULT_CHART,
                ) -> VoucherDraft:
    """The balanced postings of a match (see the module docstring)."""
    if lines_total_minor == 0 or not settled:
        raise InvalidField("a voucher needs a non-zero bank amount and at least one item")
    postings = [Posting(bank, lines_total_minor, summary)]
    postings += [Posting(chart[role_of(s.kind, s.flow)], -s.amount_minor, s.memo)
                 for s in settled if s.amount_minor]
    rest = -sum(p.amount_minor for p in postings)
    if rest:
        postings.append(Posting(chart[LedgerRole.FEES], rest, "银行手续费 bank fee"))
    return VoucherDraft(summary=summary, postings=tuple(postings))
