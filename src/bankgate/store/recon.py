"""Open items, matches, line locks, vouchers and postings (tables_recon.py).

An entry joins a live match only by inserting its lock row (primary key: the entry id), so a
second match of the same entry fails in the database, whatever the code above does. Items'
open amounts change by compare-and-set on their version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bankgate.domain.recon_keys import item_keys, pack_item_keys
from bankgate.errors import ConcurrentUpdate, NotFound, StoreError
from bankgate.store._sql import insert_ignore
from bankgate.store.tables import statement_entries
from bankgate.store.tables_recon import (
    expected_imports,
    ledger_postings,
    recon_allocations,
    recon_items,
    recon_line_locks,
    recon_matches,
    voucher_counters,
    vouchers,
)

__all__ = ["LedgerRepository", "MatchConflict", "ReconRepository"]

_i, _m, _e, _v, _p = (recon_items.c, recon_matches.c, statement_entries.c, vouchers.c,
                      ledger_postings.c)
_vc = voucher_counters.c


class MatchConflict(StoreError):
    """A match that cannot be made or changed: an entry already matched, an item settled."""

    code = "conflict"  # HTTP 409, like NotCancellable; not retried by in_transaction


class ReconRepository:
    """Open items, matches and the line locks that keep an entry in one match."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- items ---------------------------------------------------------------------------------

    def add_items(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert open items new by (kind, source id); returns how many were new.

        Each row's `recon_keys` (the reference keys the matcher looks for) is computed here
        from its `refs` unless the row brings it.
        """
        if not rows:
            return 0
        before = self._count(recon_items)
        self._conn.execute(insert_ignore(self._conn, recon_items), [
            r if "recon_keys" in r else {**r, "recon_keys": _item_keys(r["refs"])} for r in rows])
        return self._count(recon_items) - before

    def open_items(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Items with something still open."""
        query = select(recon_items).where(_i.open_minor != 0).order_by(_i.expected_date, _i.id)
        if account_id:
            query = query.where(_i.account_id == account_id)
        return [_item(r) for r in self._conn.execute(query)]

    def items(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Items by id."""
        rows = self._conn.execute(select(recon_items).where(_i.id.in_(list(ids))))
        return {r.id: _item(r) for r in rows}

    def settle(self, item: dict[str, Any], amount_minor: int) -> None:
        """Reduce an item's open amount by `amount_minor` (same sign), compare-and-set."""
        self.settle_many([(item, amount_minor)])

    def settle_many(self, changes: Sequence[tuple[dict[str, Any], int]]) -> None:
        """Apply settlements in order (an item may appear more than once), one
        compare-and-set per item on the version it was read at.

        Raises:
            MatchConflict: an amount does not fit what is open of its item.
            ConcurrentUpdate: an item changed since it was read.
        """
        final: dict[str, tuple[int, int]] = {}  # item id → (version read, open after)
        for item, amount in changes:
            version, open_ = final.get(item["id"], (item["version"], item["open_minor"]))
            left = open_ - amount
            if amount == 0 or (left != 0 and (left > 0) != (item["amount_minor"] > 0)) or \
                    abs(left) > abs(item["amount_minor"]):
                raise MatchConflict(f"item {item['id']}: {amount} does not fit its open "
                                    f"amount {open_}")
            final[item["id"]] = (version, left)
        if not final:
            return
        done = self._conn.execute(
            update(recon_items).where(_i.id == bindparam("b_id"),
                                      _i.version == bindparam("b_version"))
            .values(open_minor=bindparam("b_open"), version=bindparam("b_version") + 1),
            [{"b_id": k, "b_version": v, "b_open": left} for k, (v, left) in final.items()])
        if done.rowcount != len(final):
            raise ConcurrentUpdate("an open item changed meanwhile; run again")

    def recorded_import(self, sha256: str, *, name: str, rows: int, at: datetime) -> bool:
        """Remember an expected-receipts file by hash; False if it was imported before."""
        return self._conn.execute(insert_ignore(self._conn, expected_imports), [{
            "sha256": sha256, "name": name[:255], "rows": rows, "imported_at": at}]).rowcount == 1

    # -- lines ---------------------------------------------------------------------------------

    def free_lines(self, account_id: str | None = None,
                   on: date | None = None) -> list[dict[str, Any]]:
        """Booked entries in no live match (of one account, booked on one day, if given)."""
        locked = select(recon_line_locks.c.entry_id)
        query = select(statement_entries).where(_e.status == "booked", _e.id.not_in(locked),
                                                _e.amount_minor != 0).order_by(_e.id)
        if account_id:
            query = query.where(_e.account_id == account_id)
        if on:
            query = query.where(_e.booking_date == on)
        return [dict(r._mapping) for r in self._conn.execute(query)]

    def line_counts(self, account_id: str | None = None,
                    on: date | None = None) -> tuple[int, int]:
        """(booked entries, of which in a live match) in scope."""
        query = (select(func.count(), func.count(recon_line_locks.c.entry_id))
                 .select_from(statement_entries.outerjoin(
                     recon_line_locks, recon_line_locks.c.entry_id == _e.id))
                 .where(_e.status == "booked"))
        if account_id:
            query = query.where(_e.account_id == account_id)
        if on:
            query = query.where(_e.booking_date == on)
        total, matched = self._conn.execute(query).one()
        return int(total), int(matched)

    def locked(self, entry_ids: Iterable[int]) -> list[int]:
        """Which of these entries are in a live match."""
        rows = self._conn.execute(select(recon_line_locks.c.entry_id).where(
            recon_line_locks.c.entry_id.in_(list(entry_ids))))
        return sorted(int(r[0]) for r in rows)

    def entries(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Statement entries by id."""
        rows = self._conn.execute(select(statement_entries).where(_e.id.in_(list(ids))))
        return {int(r.id): dict(r._mapping) for r in rows}

    # -- matches -------------------------------------------------------------------------------

    def add_match(self, row: dict[str, Any]) -> None:
        """Record one match (see add_matches)."""
        self.add_matches([row])

    def add_matches(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record matches; confirmed ones lock their entries and record their allocations.

        Raises:
            MatchConflict: an entry is already in a live match (nothing of `rows` stays).
        """
        if not rows:
            return
        self._conn.execute(insert(recon_matches), [_match_row(r) for r in rows])
        self._lock([r for r in rows if r["state"] == "confirmed"])

    def _lock(self, rows: Sequence[dict[str, Any]]) -> None:
        locks = [{"entry_id": n, "match_id": r["id"]} for r in rows for n in r["line_ids"]]
        if not locks:
            return
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(recon_line_locks), locks)
        except IntegrityError as exc:
            raise MatchConflict("an entry of these matches is already matched; "
                                "run again") from exc
        self._conn.execute(insert(recon_allocations), [
            {"match_id": r["id"], "item_id": item, "amount_minor": amount}
            for r in rows for item, amount in r["allocations"]])

    def confirm(self, match_id: str, *, by: str, at: datetime) -> None:
        """A suggestion becomes a confirmed match (its lines locked, or MatchConflict)."""
        row = self.match(match_id)
        if row["state"] != "suggested":
            raise MatchConflict(f"match {match_id} is {row['state']}, not a suggestion")
        self._conn.execute(update(recon_matches).where(_m.id == match_id).values(
            state="confirmed", decided_by=by[:80], decided_at=at, rank=1))
        self._lock([{**row, "state": "confirmed"}])
        self.drop_suggestions_touching(row["line_ids"])

    def undo(self, match_id: str, *, by: str, at: datetime) -> dict[str, Any]:
        """Undo a confirmed match: its lines are free again; returns the match as it was."""
        row = self.match(match_id)
        if row["state"] != "confirmed":
            raise MatchConflict(f"match {match_id} is {row['state']}, not confirmed")
        self._conn.execute(delete(recon_line_locks).where(
            recon_line_locks.c.match_id == match_id))
        self._conn.execute(delete(recon_allocations).where(
            recon_allocations.c.match_id == match_id))
        self._conn.execute(update(recon_matches).where(_m.id == match_id).values(
            state="undone", decided_by=by[:80], decided_at=at))
        return row

    def match(self, match_id: str) -> dict[str, Any]:
        """One match.

        Raises:
            NotFound: no such match.
        """
        row = self._conn.execute(select(recon_matches).where(_m.id == match_id)).first()
        if row is None:
            raise NotFound(f"match {match_id!r} not found")
        return _match(row)

    def matches(self, *, account_id: str | None = None, state: str | None = None,
                limit: int = 10_000) -> list[dict[str, Any]]:
        """Matches, newest decision first."""
        query = select(recon_matches).order_by(_m.decided_at.desc(), _m.rank).limit(limit)
        if account_id:
            query = query.where(_m.account_id == account_id)
        if state:
            query = query.where(_m.state == state)
        return [_match(r) for r in self._conn.execute(query)]

    def replace_suggestions(self, account_ids: Sequence[str],
                            rows: Sequence[dict[str, Any]]) -> None:
        """The manual queue of these accounts becomes `rows`."""
        if account_ids:
            self._conn.execute(delete(recon_matches).where(
                _m.state == "suggested", _m.account_id.in_(list(account_ids))))
        if rows:
            self._conn.execute(insert(recon_matches), [_match_row(r) for r in rows])

    def drop_suggestions_touching(self, line_ids: Sequence[int]) -> None:
        """Suggestions naming any of these entries are void once they are matched."""
        wanted = set(line_ids)
        doomed = [m["id"] for m in self.matches(state="suggested")
                  if wanted & set(m["line_ids"])]
        if doomed:
            self._conn.execute(delete(recon_matches).where(_m.id.in_(doomed)))

    def _count(self, table: Any) -> int:
        return int(self._conn.execute(select(func.count()).select_from(table)).scalar_one())


class LedgerRepository:
    """Vouchers and their postings."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_voucher(self, row: dict[str, Any], postings: Sequence[dict[str, Any]]) -> str:
        """Record one voucher and its lines; returns its number."""
        return self.add_vouchers([(row, postings)])[0]

    def add_vouchers(self, vouchers_: Sequence[tuple[dict[str, Any], Sequence[dict[str, Any]]]],
                     ) -> list[str]:
        """Record vouchers and their lines; returns their numbers (记-YYYYMMDD-NNNNNN)."""
        if not vouchers_:
            return []
        wanted: dict[date, int] = {}
        for row, _ in vouchers_:
            wanted[row["on_date"]] = wanted.get(row["on_date"], 0) + 1
        last = {on: self._take_numbers(on, count) - count for on, count in sorted(wanted.items())}
        numbers = []
        for row, _ in vouchers_:
            on: date = row["on_date"]
            last[on] += 1
            numbers.append(f"记-{on:%Y%m%d}-{last[on]:06d}")
        self._conn.execute(insert(vouchers), [
            {**row, "number": number, "export_count": 0}
            for (row, _), number in zip(vouchers_, numbers, strict=True)])
        self._conn.execute(insert(ledger_postings), [
            {**p, "voucher_id": row["id"], "line_no": n}
            for row, postings in vouchers_ for n, p in enumerate(postings, 1)])
        return numbers

    def _take_numbers(self, on: date, count: int) -> int:
        """Reserve `count` numbers of day `on`; the highest one reserved.

        The day's counter row is created if missing (INSERT … ON CONFLICT DO NOTHING), then
        incremented: the UPDATE locks the row, so a concurrent run waits for this one to commit
        and then continues from its value — two runs never share a number.
        """
        self._conn.execute(insert_ignore(self._conn, voucher_counters).values(
            on_date=on, last_number=self._highest_number(on)))
        self._conn.execute(update(voucher_counters).where(_vc.on_date == on)
                           .values(last_number=_vc.last_number + count))
        return int(self._conn.execute(select(_vc.last_number)
                                      .where(_vc.on_date == on)).scalar_one())

    def _highest_number(self, on: date) -> int:
        """The day's highest voucher number already written (seeds a new counter row)."""
        prefix = f"记-{on:%Y%m%d}-"
        highest = self._conn.execute(select(func.max(_v.number)).where(
            _v.number >= prefix, _v.number < prefix + "999999~")).scalar_one()
        return int(highest.rsplit("-", 1)[1]) if highest else 0

    def voucher_of(self, match_id: str, kind: str = "match") -> dict[str, Any] | None:
        """The voucher of a match (or its reversal)."""
        row = self._conn.execute(select(vouchers).where(
            _v.match_id == match_id, _v.kind == kind)).first()
        return dict(row._mapping) if row else None

    def vouchers(self, *, again: bool = False, since: date | None = None,
                 ) -> list[dict[str, Any]]:
        """Vouchers not exported yet (every one with `again`), with their postings."""
        query = select(vouchers).order_by(_v.on_date, _v.number)
        if not again:
            query = query.where(_v.exported_at.is_(None))
        if since:
            query = query.where(_v.on_date >= since)
        found = [dict(r._mapping) for r in self._conn.execute(query)]
        lines = self.postings([v["id"] for v in found])
        return [{**v, "postings": lines.get(v["id"], [])} for v in found]

    def postings(self, voucher_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Postings per voucher, in line order."""
        out: dict[str, list[dict[str, Any]]] = {}
        if not voucher_ids:
            return out
        rows = self._conn.execute(select(ledger_postings).where(
            _p.voucher_id.in_(list(voucher_ids))).order_by(_p.voucher_id, _p.line_no))
        for r in rows:
            out.setdefault(r.voucher_id, []).append(dict(r._mapping))
        return out

    def mark_exported(self, voucher_ids: Sequence[str], *, at: datetime) -> None:
        """Record that these vouchers went out (once more)."""
        if voucher_ids:
            self._conn.execute(update(vouchers).where(_v.id.in_(list(voucher_ids))).values(
                exported_at=at, export_count=_v.export_count + 1))

    def balance_minor(self, ledger_account: str) -> int:
        """The sum of every posting on one ledger account (debit +)."""
        return int(self._conn.execute(select(func.coalesce(func.sum(_p.amount_minor), 0))
                                      .where(_p.ledger_account == ledger_account)).scalar_one())

    def totals(self) -> tuple[int, int]:
        """(vouchers, sum of every posting) — the sum is zero when every voucher balances."""
        count = self._conn.execute(select(func.count()).select_from(vouchers)).scalar_one()
        total = self._conn.execute(select(func.coalesce(func.sum(_p.amount_minor), 0)))
        return int(count), int(total.scalar_one())


def _item_keys(refs: str) -> str:
    return pack_item_keys(item_keys(json.loads(refs)))


def _item(row: Any) -> dict[str, Any]:
    return {**row._mapping, "refs": tuple(json.loads(row.refs))}


def _match(row: Any) -> dict[str, Any]:
    return {**row._mapping, "line_ids": [int(n) for n in json.loads(row.line_ids)],
            "allocations": [(str(i), int(a)) for i, a in json.loads(row.allocations)]}


def _match_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "line_ids": json.dumps(list(row["line_ids"])),
            "allocations": json.dumps([list(a) for a in row["allocations"]]),
            "explanation": row["explanation"][:255]}

