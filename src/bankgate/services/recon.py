"""Reconciliation (对账) around the pure matching core (`bankgate.recon.match`).

A run gathers the open items, gives the core every booked entry not yet matched, stores what
it confirms (each with its confidence and explanation, its lines locked, its items settled,
its voucher written) and replaces the manual queue with its ranked suggestions. A person
confirms a suggestion, undoes a match, or matches by hand; each is audited. The store, not
only this code, refuses to put an entry in two live matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bankgate.domain.audit_records import AuditRecord
from bankgate.domain.errors import InvalidField
from bankgate.domain.recon import BankLine, Match, MatchConfig, OpenItem, OpenItemKind
from bankgate.domain.recon_keys import unpack_item_keys, unpack_keys
from bankgate.recon import match as match_lines
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.ledger import post_match, post_matches, reverse_match
from bankgate.services.recon_items import NO_CLAIMS, ClaimSource, refresh_items
from bankgate.services.sync import replace_pending
from bankgate.store import UnitOfWork
from bankgate.store.recon import MatchConflict

__all__ = ["ReconRun", "confirm", "match_by_hand", "reconcile", "unmatch"]

Now = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ReconRun:
    """What one reconciliation run did."""

    lines: int
    items: int
    confirmed: int
    suggested: int
    new_items: int


def reconcile(*, uow: UowFactory, config: MatchConfig, now: Now, account_id: str | None = None,
              on: date | None = None, claims: ClaimSource = NO_CLAIMS,
              actor: str = "system:recon") -> ReconRun:
    """Match what is open (of one account, of lines booked on one day, if given)."""
    def run(unit: UnitOfWork) -> ReconRun:
        at = now()
        new = refresh_items(unit, at=at, claims=claims)
        scope = [a.id for a in unit.accounts.all() if not account_id or a.id == account_id]
        for acct in scope:
            replace_pending(unit, acct)
        lines = unit.recon.free_lines(account_id, on)
        items = unit.recon.open_items(account_id)
        result = match_lines([_line(r) for r in lines], [_item(r) for r in items], config)
        account_of = {str(r["id"]): r["account_id"] for r in lines}
        confirmed = _store_confirmed(unit, result.matches, actor, at, lines, items)
        suggestions = [_row(candidate, "suggested", actor, at, rank, account_of)
                       for s in result.suggestions
                       for rank, candidate in enumerate(s.candidates, 1)]
        if on is None:
            unit.recon.replace_suggestions(scope, suggestions)
        else:  # only this day's lines were matched: keep the other days' suggestions
            unit.recon.drop_suggestions_touching([int(r["id"]) for r in lines])
            unit.recon.replace_suggestions([], suggestions)
        unit.audit.append(AuditRecord(
            at=at, actor=actor, action="recon.run", subject_kind="account",
            subject_id=account_id or "*", detail={
                "date": str(on) if on else None, "lines": len(lines), "items": len(items),
                "confirmed": confirmed, "suggested": len(suggestions)}))
        return ReconRun(len(lines), len(items), confirmed, len(suggestions), new)

    return in_transaction(uow, run)


def _store_confirmed(unit: UnitOfWork, matches: Sequence[Match], actor: str, at: datetime,
                     lines: Sequence[Mapping[str, Any]],
                     items: Sequence[Mapping[str, Any]]) -> int:
    """Lock, settle and book every match the core confirmed, in bulk; how many."""
    account_of = {str(r["id"]): r["account_id"] for r in lines}
    rows = [_row(found, "confirmed", actor, at, 1, account_of) for found in matches]
    if not rows:
        return 0
    by_item = {str(r["id"]): dict(r) for r in items}
    unit.recon.settle_many([(by_item[i], a) for row in rows for i, a in row["allocations"]])
    unit.recon.add_matches(rows)
    accounts = {str(a.id): a for a in unit.accounts.all()}
    numbers = post_matches(unit, rows, lines={int(r["id"]): r for r in lines}, items=by_item,
                           accounts=accounts, at=at)
    unit.audit.append_many([_audit(row, "recon.matched", actor, at, voucher=number)
                            for row, number in zip(rows, numbers, strict=True)])
    return len(rows)


def _settle_and_lock(unit: UnitOfWork, row: dict[str, Any]) -> None:
    items = unit.recon.items([i for i, _ in row["allocations"]])
    for item_id, amount in row["allocations"]:
        unit.recon.settle(items[item_id], amount)
    unit.recon.add_match(row)


def confirm(*, uow: UowFactory, match_id: str, actor: str, now: Now) -> str:
    """A person confirms a suggestion from the manual queue; returns the voucher number.

    Raises:
        NotFound: no such suggestion.
        MatchConflict: it is no longer a suggestion, or its entries or items were taken.
    """
    def work(unit: UnitOfWork) -> str:
        at = now()
        row = unit.recon.match(match_id)
        if row["state"] != "suggested":
            raise MatchConflict(f"match {match_id} is {row['state']}, not a suggestion")
        items = unit.recon.items([i for i, _ in row["allocations"]])
        for item_id, amount in row["allocations"]:
            unit.recon.settle(items[item_id], amount)
        unit.recon.confirm(match_id, by=actor, at=at)
        number = post_match(unit, row, at=at)
        unit.audit.append(_audit(row, "recon.confirmed", actor, at, voucher=number))
        return number

    return in_transaction(uow, work)


def unmatch(*, uow: UowFactory, match_id: str, actor: str, reason: str, now: Now) -> str | None:
    """A person undoes a confirmed match: entries free, items open again, voucher reversed.

    Returns the reversal voucher's number.
    Raises:
        NotFound: no such match.
        MatchConflict: the match is not confirmed.
        InvalidField: no reason given.
    """
    if not reason.strip():
        raise InvalidField("reason: say why the match is undone")

    def work(unit: UnitOfWork) -> str | None:
        at = now()
        row = unit.recon.undo(match_id, by=actor, at=at)
        items = unit.recon.items([i for i, _ in row["allocations"]])
        for item_id, amount in row["allocations"]:
            unit.recon.settle(items[item_id], -amount)
        number = reverse_match(unit, row, at=at)
        unit.audit.append(_audit(row, "recon.unmatched", actor, at, voucher=number,
                                 reason=reason.strip()[:200]))
        return number

    return in_transaction(uow, work)


def match_by_hand(*, uow: UowFactory, entry_ids: Sequence[int], item_ids: Sequence[str],
                  actor: str, note: str, now: Now) -> tuple[str, str]:
    """A person matches entries to items (rematch); returns (match id, voucher number).

    The entries' total settles the items in the order given, each up to what is open of it;
    what is left over is booked as a bank fee.
    Raises:
        InvalidField: entries or items missing, of another account or currency, or signs
            that cannot settle each other.
        MatchConflict: an entry is already matched.
    """
    def work(unit: UnitOfWork) -> tuple[str, str]:
        at = now()
        taken = unit.recon.locked(entry_ids)
        if taken:
            raise MatchConflict(f"entries {', '.join(map(str, taken))} are already matched; "
                                "unmatch them first")
        lines = unit.recon.entries(entry_ids)
        items = unit.recon.items(item_ids)
        row = _manual_row(lines, items, entry_ids, item_ids, actor, note, at)
        _settle_and_lock(unit, row)
        number = post_match(unit, row, at=at)
        unit.recon.drop_suggestions_touching(row["line_ids"])
        unit.audit.append(_audit(row, "recon.rematched", actor, at, voucher=number,
                                 note=note[:200]))
        return row["id"], number

    return in_transaction(uow, work)


def _manual_row(lines: Mapping[int, Mapping[str, Any]], items: Mapping[str, Mapping[str, Any]],
                entry_ids: Sequence[int], item_ids: Sequence[str], actor: str, note: str,
                at: datetime) -> dict[str, Any]:
    missing = [str(n) for n in entry_ids if n not in lines] + [i for i in item_ids
                                                              if i not in items]
    if missing or not entry_ids or not item_ids:
        raise InvalidField(f"entries and items: not found: {', '.join(missing) or 'none given'}")
    accounts = {r["account_id"] for r in (*lines.values(), *items.values())}
    if len(accounts) != 1 or any(lines[n]["status"] != "booked" for n in entry_ids):
        raise InvalidField("entries and items: all booked, all of one account")
    total = sum(lines[n]["amount_minor"] for n in entry_ids)
    left, allocations = total, []
    for item_id in item_ids:
        open_ = items[item_id]["open_minor"]
        if open_ == 0 or (open_ > 0) != (total > 0):
            raise InvalidField(f"item {item_id}: nothing open of the entries' direction")
        share = open_ if abs(left) >= abs(open_) else left
        if share:
            allocations.append((item_id, share))
        left -= share
    return {"id": f"ma_{uuid.uuid4().hex[:24]}", "account_id": accounts.pop(),
            "state": "confirmed", "rule": "manual", "confidence": 100,
            "explanation": f"matched by hand: {note}".strip()[:255],
            "line_ids": list(entry_ids), "allocations": allocations,
            "difference_minor": left, "rank": 1, "decided_by": actor, "created_at": at,
            "decided_at": at}


def _row(found: Match, state: str, actor: str, at: datetime, rank: int,
         account_of: Mapping[str, str]) -> dict[str, Any]:
    return {"id": f"ma_{uuid.uuid4().hex[:24]}", "account_id": account_of[found.line_ids[0]],
            "state": state, "rule": found.rule.value, "confidence": found.confidence,
            "explanation": found.explanation, "line_ids": [int(n) for n in found.line_ids],
            "allocations": list(zip(found.item_ids, found.amounts_minor, strict=True)),
            "difference_minor": found.difference_minor, "rank": rank, "decided_by": actor,
            "created_at": at, "decided_at": at}


def _line(row: Mapping[str, Any]) -> BankLine:
    return BankLine(id=str(row["id"]), account_id=row["account_id"],
                    amount_minor=row["amount_minor"], currency=row["currency"],
                    booking_date=row["booking_date"] or row["value_date"],
                    value_date=row["value_date"], end_to_end_id=row["end_to_end_id"],
                    instruction_id=row["end_to_end_id"], bank_reference=row["bank_reference"],
                    counterparty_name=row["counterparty_name"],
                    counterparty_account=row["counterparty_account"],
                    remittance=row["remittance"], remittance_keys=_line_keys(row))


def _line_keys(row: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The reference keys stored with the entry at import; None for an entry stored before
    they were (the matcher then extracts them from its remittance)."""
    stored = row.get("recon_keys")
    return None if stored is None else unpack_keys(stored)


def _item_keys(row: Mapping[str, Any]) -> tuple[tuple[str, ...], ...] | None:
    """The keys of each of the item's references, stored when it was created (or None).

    Raises:
        InvalidField: the stored keys do not fit the item's references.
    """
    stored = row.get("recon_keys")
    if stored is None:
        return None
    try:
        return unpack_item_keys(stored, len(row["refs"]))
    except ValueError as exc:
        raise InvalidField(f"open item {row['id']}: {exc}") from None


def _item(row: Mapping[str, Any]) -> OpenItem:
    return OpenItem(id=row["id"], kind=OpenItemKind(row["kind"]), account_id=row["account_id"],
                    amount_minor=row["amount_minor"], open_amount_minor=row["open_minor"],
                    currency=row["currency"], expected_date=row["expected_date"],
                    end_to_end_id=row["end_to_end_id"], batch_id=row["batch_id"],
                    counterparty_name=row["counterparty_name"],
                    counterparty_account=row["counterparty_account"], references=row["refs"],
                    reference_keys=_item_keys(row))


def _audit(row: Mapping[str, Any], action: str, actor: str, at: datetime,
           **detail: object) -> AuditRecord:
    return AuditRecord(at=at, actor=actor, action=action, subject_kind="match",
                       subject_id=row["id"], detail={
                           "account": row["account_id"], "rule": row["rule"],
                           "confidence": row["confidence"], "explanation": row["explanation"],
                           "entries": list(row["line_ids"]),
                           "items": [list(a) for a in row["allocations"]], **detail})
