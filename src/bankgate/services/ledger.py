"""The ledger side of reconciliation: a voucher per confirmed match, its reversal on unmatch,
the export of vouchers (凭证) for the ERP, and the check that books and bank agree.

Export is at least once and never silently twice: `prepare_export` reads what is not yet
exported, the caller writes the file, then `mark_exported` records it; `again=True` is the
explicit re-export. Voucher numbers are stable, so an ERP can drop a voucher it already holds.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bankgate.domain import CompanyAccount, Money, currency
from bankgate.domain.ledger import (
    DEFAULT_CHART,
    LedgerAccount,
    LedgerRole,
    Posting,
    Settled,
    VoucherDraft,
    bank_ledger_account,
    voucher_for,
)
from bankgate.domain.recon import OpenItemKind
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.store import UnitOfWork

__all__ = ["CSV_COLUMNS", "BooksVsBank", "PreparedExport", "books_vs_bank", "mark_exported",
           "post_match", "post_matches", "prepare_export", "reverse_match"]

CSV_COLUMNS = ("voucher_no", "date", "line", "account_code", "account_name", "debit",
               "credit", "currency", "summary", "memo", "bank_account", "match_id")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def post_match(unit: UnitOfWork, match: Mapping[str, Any], *, at: datetime,
               chart: Mapping[LedgerRole, LedgerAccount] = DEFAULT_CHART) -> str:
    """Write the balanced voucher of a confirmed match; returns its number."""
    lines = unit.recon.entries(match["line_ids"])
    items = unit.recon.items([i for i, _ in match["allocations"]])
    accounts = {str(a.id): a for a in unit.accounts.all()}
    return post_matches(unit, [match], lines=lines, items=items, accounts=accounts, at=at,
                        chart=chart)[0]


def post_matches(unit: UnitOfWork, matches: Sequence[Mapping[str, Any]], *,
                 lines: Mapping[int, Mapping[str, Any]], items: Mapping[str, Mapping[str, Any]],
                 accounts: Mapping[str, CompanyAccount], at: datetime,
                 chart: Mapping[LedgerRole, LedgerAccount] = DEFAULT_CHART) -> list[str]:
    """Write the vouchers of confirmed matches (entries and items given); their numbers."""
    written = []
    for match in matches:
        account = accounts[match["account_id"]]
        settled = [Settled(kind=OpenItemKind(items[i]["kind"]), flow=items[i]["flow"],
                           amount_minor=a, memo=_memo(items[i]))
                   for i, a in match["allocations"]]
        total = sum(lines[n]["amount_minor"] for n in match["line_ids"])
        on = max(lines[n]["booking_date"] or at.date() for n in match["line_ids"])
        draft = voucher_for(bank=bank_ledger_account(account.id, account.bank),
                            lines_total_minor=total, settled=settled,
                            summary=_summary(settled, items, match), chart=chart)
        written.append(_voucher(draft, match, account, on, at, kind="match"))
    return unit.ledger.add_vouchers(written)


def reverse_match(unit: UnitOfWork, match: Mapping[str, Any], *, at: datetime) -> str | None:
    """Write the reversal (红字冲销) of a match's voucher; None if it had none."""
    original = unit.ledger.voucher_of(match["id"])
    if original is None:
        return None
    lines = unit.ledger.postings([original["id"]])[original["id"]]
    account = unit.accounts.get(match["account_id"])
    draft = VoucherDraft(summary=f"冲销 {original['number']} reversal"[:140], postings=tuple(
        _negated(p) for p in lines))
    return unit.ledger.add_vouchers([_voucher(draft, match, account, at.date(), at,
                                              kind="reversal")])[0]


def _negated(row: Mapping[str, Any]) -> Posting:
    name, _, memo = row["memo"].partition(" | ")
    return Posting(LedgerAccount(row["ledger_account"], name), -row["amount_minor"], memo)


def _voucher(draft: VoucherDraft, match: Mapping[str, Any], account: CompanyAccount, on: date,
             at: datetime, *, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row = {"id": f"vo_{uuid.uuid4().hex[:24]}", "match_id": match["id"], "kind": kind,
           "account_id": account.id, "on_date": on, "currency": account.currency.code,
           "summary": draft.summary[:140], "created_at": at, "exported_at": None}
    postings = [{"ledger_account": p.account.code, "amount_minor": p.amount_minor,
                 "currency": account.currency.code,
                 "memo": f"{p.account.name} | {p.memo}"[:140]} for p in draft.postings]
    return row, postings


def _memo(item: Mapping[str, Any]) -> str:
    refs = ",".join(item["refs"][:3])
    return " ".join(x for x in (item["kind"], item["counterparty_name"] or "", refs) if x)[:100]


def _summary(settled: Sequence[Settled], items: Mapping[str, Any],
             match: Mapping[str, Any]) -> str:
    words = {OpenItemKind.PAYMENT: "付款", OpenItemKind.PAYMENT_BATCH: "批量付款",
             OpenItemKind.RECEIPT: "收款", OpenItemKind.CLAIM: "报销付款",
             OpenItemKind.TRANSFER_OUT: "资金调拨转出", OpenItemKind.TRANSFER_IN: "资金调拨转入",
             OpenItemKind.FEE: "银行手续费", OpenItemKind.RETURN: "退汇"}
    first = items[match["allocations"][0][0]]
    more = f" 等{len(settled)}笔" if len(settled) > 1 else ""
    return f"{words[settled[0].kind]} {first['counterparty_name'] or ''}{more}".strip()[:140]


# -- export -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PreparedExport:
    """An export's content and the vouchers it holds (mark them after the file is written)."""

    content: bytes
    voucher_ids: tuple[str, ...]


def prepare_export(*, uow: UowFactory, fmt: str, again: bool = False,
                   since: date | None = None) -> PreparedExport:
    """Vouchers not yet exported (all of them with `again`) as CSV or JSON (ledger-export.md)."""
    with uow() as unit:
        found = unit.ledger.vouchers(again=again, since=since)
        banks = {str(a.id): a for a in unit.accounts.all()}
    ids = tuple(v["id"] for v in found)
    if fmt == "json":
        return PreparedExport(_json(found, banks), ids)
    return PreparedExport(_csv(found, banks), ids)


def mark_exported(*, uow: UowFactory, voucher_ids: Sequence[str],
                  now: Callable[[], datetime]) -> None:
    """Record that these vouchers were written out."""
    in_transaction(uow, lambda unit: unit.ledger.mark_exported(voucher_ids, at=now()))


def _rows(vouchers: Sequence[Mapping[str, Any]],
          banks: Mapping[str, CompanyAccount]) -> list[dict[str, str]]:
    rows = []
    for v in vouchers:
        code = currency(v["currency"])
        for p in v["postings"]:
            amount = Money.from_minor(abs(p["amount_minor"]), code).amount
            name, _, memo = p["memo"].partition(" | ")
            rows.append({"voucher_no": v["number"], "date": v["on_date"].isoformat(),
                         "line": str(p["line_no"]), "account_code": p["ledger_account"],
                         "account_name": name,
                         "debit": f"{amount:f}" if p["amount_minor"] > 0 else "",
                         "credit": f"{amount:f}" if p["amount_minor"] < 0 else "",
                         "currency": v["currency"], "summary": v["summary"], "memo": memo,
                         "bank_account": str(banks[v["account_id"]].number),
                         "match_id": v["match_id"]})
    return rows


def _csv(vouchers: Sequence[Mapping[str, Any]], banks: Mapping[str, CompanyAccount]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in _rows(vouchers, banks):
        writer.writerow({k: neutralise(v) for k, v in row.items()})
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel reads it as UTF-8


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _json(vouchers: Sequence[Mapping[str, Any]], banks: Mapping[str, CompanyAccount]) -> bytes:
    rows = _rows(vouchers, banks)
    document = {"format": "bankgate.vouchers/1", "vouchers": [
        {"voucher_no": v["number"], "date": v["on_date"].isoformat(), "kind": v["kind"],
         "currency": v["currency"], "summary": v["summary"], "match_id": v["match_id"],
         "bank_account": str(banks[v["account_id"]].number),
         "lines": [{k: r[k] for k in ("line", "account_code", "account_name", "debit",
                                       "credit", "memo")}
                   for r in rows if r["voucher_no"] == v["number"]]} for v in vouchers]}
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


# -- books against bank -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class BooksVsBank:
    """An account's ledger balance (银行存款日记账) against its bank balance (银行对账单)."""

    account_id: str
    currency: str
    opening: Decimal  # the first statement's opening: where the books start
    bank: Decimal  # opening + every booked entry
    ledger: Decimal  # opening + every posting on the account's bank ledger account
    unmatched_entries: int

    @property
    def difference(self) -> Decimal:
        """Bank minus ledger: zero once every entry is reconciled."""
        return self.bank - self.ledger


def books_vs_bank(unit: UnitOfWork) -> list[BooksVsBank]:
    """Per account: does the ledger say what the bank says, and if not, by how much."""
    out = []
    for account in unit.accounts.all():
        held = unit.sync.held_days(account.id)
        first = min(held) if held else None
        opening = (held[first].opening_minor or 0) if first else 0
        code = account.currency
        bank = opening + unit.sync.booked_total_minor(account.id)
        ledger = opening + unit.ledger.balance_minor(
            bank_ledger_account(account.id, account.bank).code)
        out.append(BooksVsBank(
            account_id=account.id, currency=code.code,
            opening=Money.from_minor(opening, code).amount,
            bank=Money.from_minor(bank, code).amount,
            ledger=Money.from_minor(ledger, code).amount,
            unmatched_entries=len(unit.recon.free_lines(account.id))))
    return out
