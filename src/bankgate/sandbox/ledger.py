"""The sandbox banks' books: one thread-safe in-memory ledger for the whole world.

Every movement is a pair of bookings between two accounts, so the sum of all balances in
the world never changes (INV-3): an accepted order moves the amount from the debtor to the
bank's in-transit account; settlement moves it on to the payee (same bank or another sandbox
bank) or to the bank's external-clearing account, or back to the debtor when the payee's
bank refuses it (`returned`). Submit semantics follow hostapi-protocol.md, "POST
/payments/batches", check by check. Given a `LedgerFile`, every change is on disk before the
bank answers, and a ledger opened on that file again carries on from it (K-18).
"""

from __future__ import annotations

import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from bankgate.sandbox.dialects import ErrorMeaning, StatusMeaning
from bankgate.sandbox.ledger_file import LedgerFile
from bankgate.sandbox.records import (
    AccountKind,
    AccountState,
    BatchRequest,
    Booking,
    Order,
    OrderLine,
    Refusal,
    StatementView,
    StatusChange,
    SubmitAnswer,
    SubmitLine,
)
from bankgate.sandbox.world import World

__all__ = ["SHANGHAI", "Ledger", "same_name"]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
_Key = tuple[str, str]  # (bank, account number)


def _utc_now(_bank: str) -> datetime:
    return datetime.now(UTC)


def same_name(given: str, holder: str) -> bool:
    """Names match after NFKC (full-width brackets), case folding and collapsed spaces."""
    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return norm(given) == norm(holder)


class Ledger:
    """Accounts, bookings, orders and batches of every sandbox bank of one world."""

    def __init__(self, world: World, *, settle_delay_s: float = 0.2,
                 clock: Callable[[str], datetime] = _utc_now,
                 file: LedgerFile | None = None) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._settle_delay_s = settle_delay_s
        self._banks = frozenset(spec.id for spec in world.banks)
        self._accounts: dict[_Key, AccountState] = {}
        self._bookings: dict[_Key, list[Booking]] = {}
        self._serials: Counter[str] = Counter()
        self._batch_refs: Counter[str] = Counter()
        self._orders: dict[_Key, Order] = {}
        self._due: dict[_Key, float] = {}  # accepted orders → monotonic settlement time
        self._batches: dict[_Key, tuple[str, SubmitAnswer]] = {}
        self._debits: Counter[str] = Counter()
        for spec in world.accounts:
            kind = AccountKind.COMPANY if spec.company else AccountKind.CUSTOMER
            self._open(spec.bank, spec.number, spec.holder, spec.currency, spec.opening_minor,
                       kind, is_open=spec.open)
        self._opening_total = self.total_minor()
        self._file = file
        saved = file.load() if file is not None else None
        if saved is not None:
            self._restore(saved)
        self._persist()

    # -- on disk (K-18) ------------------------------------------------------------------------

    _STATE: Final = ("_accounts", "_bookings", "_serials", "_batch_refs", "_orders", "_batches",
                     "_debits", "_opening_total")

    def _persist(self) -> None:
        """Write the whole state to the ledger file, if there is one (under the lock)."""
        if self._file is None:
            return
        state: dict[str, Any] = {name: getattr(self, name) for name in self._STATE}
        # Settlement times as wall-clock deadlines: monotonic clocks do not outlive a process.
        wall = time.time() - time.monotonic()
        state["_due"] = {key: at + wall for key, at in self._due.items()}
        self._file.save(state)

    def _restore(self, state: dict[str, Any]) -> None:
        for name in self._STATE:
            setattr(self, name, state[name])
        mono = time.monotonic() - time.time()
        self._due = {key: at + mono for key, at in state["_due"].items()}

    # -- accounts ----------------------------------------------------------------------------

    def _open(self, bank: str, number: str, holder: str, currency: str, balance: int,
              kind: AccountKind, *, is_open: bool = True) -> AccountState:
        state = AccountState(bank=bank, number=number, holder=holder, currency=currency,
                             balance_minor=balance, opening_minor=balance, open=is_open,
                             kind=kind)
        self._accounts[(bank, number)] = state
        self._bookings[(bank, number)] = []
        return state

    def _internal(self, bank: str, kind: AccountKind, currency: str) -> AccountState:
        number = f"{kind.value.upper()}-{currency}"
        return self._accounts.get((bank, number)) or self._open(
            bank, number, f"{bank.upper()} {kind.value.replace('_', ' ')}", currency, 0, kind)

    def account(self, bank: str, number: str) -> AccountState:
        """A customer's or company's account; Refusal 404 when the bank holds no such account."""
        with self._lock:
            state = self._accounts.get((bank, number))
        if state is None or state.kind.is_internal:
            raise Refusal(404, ErrorMeaning.UNKNOWN_DEBTOR,
                          f"account {number} is not held at {bank}")
        return state

    def balances(self, bank: str, numbers: Sequence[str]) -> list[AccountState]:
        """The accounts in request order; Refusal 422 naming the first unknown one."""
        with self._lock:
            found = [self._accounts.get((bank, n)) for n in numbers]
        for index, (number, state) in enumerate(zip(numbers, found, strict=True)):
            if state is None or state.kind.is_internal:
                raise Refusal(422, ErrorMeaning.UNKNOWN_DEBTOR,
                              f"accounts[{index}]: {number} is not held at {bank}")
        return [state for state in found if state is not None]

    def entries(self, bank: str, number: str, since: date, until: date) -> list[Booking]:
        """Bookings on the account with booking date in [since, until], oldest first."""
        self.account(bank, number)
        with self._lock:
            return [b for b in self._bookings[(bank, number)]
                    if since <= b.booking_date <= until]

    def statement(self, bank: str, number: str, on: date) -> StatementView:
        """The end-of-day statement of `on` (Asia/Shanghai booking date)."""
        with self._lock:
            state = self.account(bank, number)
            bookings = list(self._bookings[(bank, number)])
        opening = state.opening_minor + sum(b.amount_minor for b in bookings
                                            if b.booking_date < on)
        entries = tuple(b for b in bookings if b.booking_date == on)
        return StatementView(account=state, on=on, opening_minor=opening,
                             closing_minor=opening + sum(b.amount_minor for b in entries),
                             entries=entries)

    def close_account(self, bank: str, number: str) -> None:
        """Close a customer's account (a payee who closed the card after it was checked)."""
        with self._lock:
            self._accounts[(bank, number)] = replace(self.account(bank, number), open=False)
            self._persist()

    # -- moving money --------------------------------------------------------------------------

    def _book(self, state: AccountState, amount: int, counterparty: AccountState | tuple[str, str],
              instruction_id: str | None, remittance: str) -> Booking:
        key = (state.bank, state.number)
        now = self._clock(state.bank).replace(microsecond=0)
        local = now.astimezone(SHANGHAI).date()
        self._serials[state.bank] += 1
        balance = self._accounts[key].balance_minor + amount
        self._accounts[key] = replace(self._accounts[key], balance_minor=balance)
        name, account = ((counterparty.holder, counterparty.number)
                         if isinstance(counterparty, AccountState) else counterparty)
        serial = f"{state.bank.upper()}{local:%Y%m%d}{self._serials[state.bank]:06d}"
        booking = Booking(serial=serial,
                          bank=state.bank, account=state.number, booked_at=now,
                          booking_date=local, amount_minor=amount, balance_after_minor=balance,
                          counterparty_name=name, counterparty_account=account,
                          instruction_id=instruction_id, remittance=remittance)
        self._bookings[key].append(booking)
        return booking

    def _move(self, source: AccountState, target: AccountState, amount: int, *,
              instruction_id: str, remittance: str,
              shown_to_source: AccountState | tuple[str, str] | None = None,
              shown_to_target: AccountState | tuple[str, str] | None = None) -> None:
        """Debit `source` and credit `target`: two bookings, the world's sum unchanged."""
        self._book(source, -amount, shown_to_source or target, instruction_id, remittance)
        self._book(target, amount, shown_to_target or source, instruction_id, remittance)

    # -- payments ------------------------------------------------------------------------------

    def submit(self, bank: str, request: BatchRequest, *, body_hash: str) -> SubmitAnswer:
        """Book a batch once; the same batch id again returns the first answer.

        Raises:
            Refusal: 409 for a batch id reused with another body, 422 for an unknown or
                closed debtor account or a currency that is not the account's.
        """
        with self._lock:
            stored = self._batches.get((bank, request.batch_id))
            if stored is not None:
                if stored[0] != body_hash:
                    raise Refusal(409, ErrorMeaning.DUPLICATE_INSTRUCTION,
                                  f"batch_id {request.batch_id} was already used with "
                                  "another body")
                return stored[1]
            debtor = self._debtor(bank, request)
            self._batch_refs[bank] += 1
            reference = f"{bank.upper()}-B-{self._batch_refs[bank]:06d}"
            lines = tuple(self._order(bank, request, line, debtor, reference)
                          for line in request.orders)
            answer = SubmitAnswer(batch_id=request.batch_id, bank_reference=reference,
                                  lines=lines)
            self._batches[(bank, request.batch_id)] = (body_hash, answer)
            self._persist()
            return answer

    def _debtor(self, bank: str, request: BatchRequest) -> AccountState:
        debtor = self._accounts.get((bank, request.debtor_account))
        if debtor is None or debtor.kind.is_internal:
            raise Refusal(422, ErrorMeaning.UNKNOWN_DEBTOR,
                          f"debtor_account: {request.debtor_account} is not held at {bank}")
        if not debtor.open:
            raise Refusal(422, ErrorMeaning.CLOSED_ACCOUNT,
                          f"debtor_account: {request.debtor_account} is closed")
        if debtor.currency != request.currency:
            raise Refusal(422, ErrorMeaning.INVALID_REQUEST,
                          f"currency: the batch is in {request.currency} but debtor account "
                          f"{request.debtor_account} is held in {debtor.currency}")
        return debtor

    def _order(self, bank: str, request: BatchRequest, line: OrderLine, debtor: AccountState,
               reference: str) -> SubmitLine:
        held = self._orders.get((bank, line.instruction_id))
        if held is not None:
            # The held order's real status, so that a resend under a new batch id learns it.
            return SubmitLine(instruction_id=line.instruction_id, status=held.status,
                              error=ErrorMeaning.DUPLICATE_INSTRUCTION,
                              error_message=f"instruction_id {line.instruction_id} is already "
                                            f"held from batch {held.batch_id}")
        problem = None
        if line.payee_bank in (None, bank):
            problem = self._payee_problem(bank, request.currency, line)
        debtor = self._accounts[(debtor.bank, debtor.number)]
        if problem is None and debtor.balance_minor < line.amount_minor:
            problem = (ErrorMeaning.INSUFFICIENT_FUNDS,
                       f"balance of {debtor.number} is below the amount")
        order = Order(bank=bank, batch_id=request.batch_id, bank_reference=reference,
                      debtor_account=debtor.number, debtor_name=debtor.holder,
                      currency=request.currency, line=line, status=StatusMeaning.ACCEPTED,
                      error=None, error_message=None, updated_at=self._clock(bank),
                      callback_url=request.callback_url)
        if problem is not None:
            order = replace(order, status=StatusMeaning.REJECTED, error=problem[0],
                            error_message=problem[1])
        elif line.bank_confirmation:  # nothing moves until confirmed in the portal (B-19)
            order = replace(order, status=StatusMeaning.AWAITING_CONFIRMATION)
        else:
            self._accept(order)
        self._orders[(bank, line.instruction_id)] = order
        return SubmitLine(instruction_id=line.instruction_id, status=order.status,
                          error=order.error, error_message=order.error_message)

    def _accept(self, order: Order) -> None:
        """Debit the debtor into the bank's in-transit account; settlement is due later."""
        line = order.line
        debtor = self._accounts[(order.bank, order.debtor_account)]
        transit = self._internal(order.bank, AccountKind.IN_TRANSIT, order.currency)
        self._move(debtor, transit, line.amount_minor, instruction_id=line.instruction_id,
                   remittance=line.remittance,
                   shown_to_source=(line.payee_name, line.payee_account))
        self._debits[line.instruction_id] += 1
        self._due[(order.bank, line.instruction_id)] = time.monotonic() + self._settle_delay_s

    def confirm_in_portal(self, bank: str, instruction_id: str, *, confirm: bool,
                          reason: str | None = None) -> StatusChange:
        """The customer confirms (or refuses) a held order in the bank's portal (B-19).

        Confirmed: the funds are checked again and the order is accepted (or rejected for
        insufficient funds). Refused: rejected with the customer's reason.

        Raises:
            Refusal: 404 when the bank holds no such order, 409 when it is not awaiting.
        """
        with self._lock:
            key = (bank, instruction_id)
            order = self._orders.get(key)
            if order is None:
                raise Refusal(404, ErrorMeaning.INVALID_REQUEST,
                              f"instruction_id {instruction_id} is not held at {bank}")
            if order.status is not StatusMeaning.AWAITING_CONFIRMATION:
                raise Refusal(409, ErrorMeaning.INVALID_REQUEST,
                              f"instruction_id {instruction_id} is {order.status.value}, "
                              "not awaiting confirmation")
            at = self._clock(bank)
            debtor = self._accounts[(bank, order.debtor_account)]
            if not confirm:
                order = replace(order, status=StatusMeaning.REJECTED, updated_at=at,
                                error=ErrorMeaning.CONFIRMATION_REFUSED,
                                error_message=(reason or "refused in the portal")[:140])
            elif debtor.balance_minor < order.line.amount_minor:
                order = replace(order, status=StatusMeaning.REJECTED, updated_at=at,
                                error=ErrorMeaning.INSUFFICIENT_FUNDS,
                                error_message=f"balance of {debtor.number} is below the amount")
            else:
                order = replace(order, status=StatusMeaning.ACCEPTED, updated_at=at)
                self._accept(order)
            self._orders[key] = order
            self._persist()
            return StatusChange(callback_id=uuid.uuid4().hex, order=order)

    def awaiting_confirmation(self, bank: str) -> list[Order]:
        """The orders `bank` holds for a second confirmation, oldest first."""
        with self._lock:
            return sorted((o for (b, _), o in self._orders.items() if b == bank
                           and o.status is StatusMeaning.AWAITING_CONFIRMATION),
                          key=lambda o: o.updated_at)

    def _payee_problem(self, bank: str, currency: str,
                       line: OrderLine) -> tuple[ErrorMeaning, str] | None:
        """Why `bank` cannot credit the payee, in the protocol's order; None when it can."""
        payee = self._accounts.get((bank, line.payee_account))
        if payee is None or payee.kind.is_internal:
            return ErrorMeaning.UNKNOWN_ACCOUNT, f"payee account {line.payee_account} is not " \
                                                 f"held at {bank}"
        if not payee.open:
            return ErrorMeaning.CLOSED_ACCOUNT, f"payee account {line.payee_account} is closed"
        if not same_name(line.payee_name, payee.holder):
            return ErrorMeaning.NAME_MISMATCH, (f"payee name {line.payee_name!r} is not the "
                                                f"holder of {line.payee_account}")
        if payee.currency != currency:
            return ErrorMeaning.INVALID_REQUEST, (f"payee account {line.payee_account} is held "
                                                  f"in {payee.currency}, not {currency}")
        return None

    def settle_due(self, *, force: bool = False) -> list[StatusChange]:
        """Settle accepted orders whose time has come (all of them with `force`)."""
        with self._lock:
            now = time.monotonic()
            due = [key for key, at in self._due.items() if force or at <= now]
            changes = []
            for key in due:
                del self._due[key]
                order = self._settle(self._orders[key])
                self._orders[key] = order
                changes.append(StatusChange(callback_id=uuid.uuid4().hex, order=order))
            if changes:
                self._persist()
            return changes

    def _settle(self, order: Order) -> Order:
        line = order.line
        transit = self._internal(order.bank, AccountKind.IN_TRANSIT, order.currency)
        target = line.payee_bank or order.bank
        debtor = self._accounts[(order.bank, order.debtor_account)]
        if target not in self._banks:
            clearing = self._internal(order.bank, AccountKind.EXTERNAL_CLEARING, order.currency)
            self._move(transit, clearing, line.amount_minor, instruction_id=line.instruction_id,
                       remittance=line.remittance)
            return replace(order, status=StatusMeaning.SETTLED, updated_at=self._clock(order.bank))
        problem = self._payee_problem(target, order.currency, line)
        if problem is not None:
            self._move(transit, debtor, line.amount_minor, instruction_id=line.instruction_id,
                       remittance=f"RETURN {line.remittance}".strip(),
                       shown_to_target=(line.payee_name, line.payee_account))
            return replace(order, status=StatusMeaning.RETURNED, error=problem[0],
                           error_message=problem[1], updated_at=self._clock(order.bank))
        payee = self._accounts[(target, line.payee_account)]
        self._move(transit, payee, line.amount_minor, instruction_id=line.instruction_id,
                   remittance=line.remittance, shown_to_target=debtor)
        return replace(order, status=StatusMeaning.SETTLED, updated_at=self._clock(order.bank))

    def pending_credits(self, bank: str, number: str, since: date,
                        until: date) -> list[tuple[date, Order]]:
        """Accepted orders not yet settled that will credit this account, as pending on
        today (Asia/Shanghai) when today is within [since, until]."""
        today = self._clock(bank).astimezone(SHANGHAI).date()
        if not since <= today <= until:
            return []
        with self._lock:
            return [(today, order) for key, order in self._orders.items() if key in self._due
                    and (order.line.payee_bank or order.bank) == bank
                    and order.line.payee_account == number]

    def status(self, bank: str, instruction_ids: Iterable[str]) -> list[Order | None]:
        """The orders the bank holds, in request order; None for an id it does not hold."""
        with self._lock:
            return [self._orders.get((bank, iid)) for iid in instruction_ids]

    # -- checks (INV-1, INV-3) ---------------------------------------------------------------

    def debit_bookings(self) -> dict[str, int]:
        """Instruction id → number of debit bookings made for it (INV-1: never above 1)."""
        with self._lock:
            return dict(self._debits)

    def total_minor(self) -> int:
        """The sum of every balance in the world, in minor units (all currencies added)."""
        with self._lock:
            return sum(state.balance_minor for state in self._accounts.values())

    def opening_total_minor(self) -> int:
        """The sum of every balance when the world began (INV-3: always `total_minor()`)."""
        return self._opening_total

    def balance_minor(self, bank: str, number: str) -> int:
        """One account's balance in minor units."""
        with self._lock:
            return self._accounts[(bank, number)].balance_minor

    def accounts(self) -> list[AccountState]:
        """Every account, the banks' own included."""
        with self._lock:
            return list(self._accounts.values())

    def bookings(self, bank: str, number: str) -> list[Booking]:
        """Every booking on one account, oldest first."""
        with self._lock:
            return list(self._bookings[(bank, number)])
