"""The file bank's back office: picks up payment files, books them, writes the answers back.

Each login of the SFTP bank is one company at one bank, with its own directory:

    <root>/<bank>/<login>/out/   the gateway uploads pain.001 here (as NAME.part, renamed)
    <root>/<bank>/<login>/in/    the bank writes pain.002, camt.053 and camt.054 here

A payment file is picked up once per name (the bank remembers the name and content hash):
it is read with the hardened parser, booked on the same `Ledger` as the host-API banks
(idempotent on batch id and instruction id, rejections for real reasons), and answered
with a pain.002 at once. Later status changes (settled; returned by the payee's bank) are
written when the company next lists `in/`: settled orders as a pain.002 (ACSC), returns as
a camt.054 credit notification with the return reason — pain.002 has no return status. A
fresh camt.053 of the day is written for each company account whose bookings changed.
Bank-written names carry a sequence number, so no name is ever reused.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from bankgate.errors import FormatError
from bankgate.sandbox.dialects import ErrorMeaning, StatusMeaning
from bankgate.sandbox.ledger import SHANGHAI, Ledger
from bankgate.sandbox.records import BatchRequest, Refusal, StatusChange
from bankgate.sandbox.sftp_files import (
    PaymentFile,
    StatusLine,
    camt053,
    camt054,
    pain002,
    read_pain001,
)
from bankgate.sandbox.world import World

__all__ = ["ISO_REASONS", "TEMP_SUFFIX", "FileBank", "Login"]

log = logging.getLogger(__name__)

TEMP_SUFFIX: Final = ".part"
#: How many past days' end-of-day statements the bank holds for the company to collect.
HISTORY_DAYS: Final = 31
#: The bank's reasons in ISO 20022 ExternalStatusReason1Code.
ISO_REASONS: Final = {
    ErrorMeaning.INSUFFICIENT_FUNDS: "AM04", ErrorMeaning.UNKNOWN_ACCOUNT: "AC01",
    ErrorMeaning.CLOSED_ACCOUNT: "AC04", ErrorMeaning.NAME_MISMATCH: "BE01",
    ErrorMeaning.DUPLICATE_INSTRUCTION: "DU05", ErrorMeaning.INVALID_REQUEST: "FF01",
    ErrorMeaning.UNKNOWN_DEBTOR: "AC02", ErrorMeaning.INTERNAL: "MS03",
    ErrorMeaning.BUSY: "MS03", ErrorMeaning.RATE_LIMITED: "MS03",
}
_TX_STATUS: Final = {
    StatusMeaning.RECEIVED: "ACTC", StatusMeaning.AWAITING_CONFIRMATION: "PDNG",
    StatusMeaning.ACCEPTED: "ACCP", StatusMeaning.SETTLED: "ACSC",
    StatusMeaning.REJECTED: "RJCT", StatusMeaning.RETURNED: "ACSC",
}


@dataclass(frozen=True, slots=True)
class Login:
    """One company at one bank: its SSH login and its directory."""

    name: str
    bank: str
    home: Path

    @property
    def outbound(self) -> Path:
        """Where the company uploads (its `out/`)."""
        return self.home / "out"

    @property
    def inbound(self) -> Path:
        """Where the bank answers (the company's `in/`)."""
        return self.home / "in"


@dataclass
class _Books:
    """What the bank remembers of one login."""

    picked: dict[str, str] = field(default_factory=dict)  # file name → sha256
    files: dict[str, PaymentFile] = field(default_factory=dict)  # batch id → file
    ids: set[str] = field(default_factory=set)  # instruction ids received by file
    pending: list[StatusChange] = field(default_factory=list)
    statement_marks: dict[str, int] = field(default_factory=dict)  # account → bookings seen
    sequence: int = 0


class FileBank:
    """The back office of every login of the SFTP bank."""

    def __init__(self, ledger: Ledger, world: World, root: Path, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.ledger, self.world, self.root, self._clock = ledger, world, root, clock
        self._lock = threading.RLock()
        self._books: dict[str, _Books] = defaultdict(_Books)
        self.logins: dict[str, Login] = {}
        for spec in world.banks:
            login = Login(f"company-{spec.id}", spec.id, root / spec.id / "company")
            login.outbound.mkdir(parents=True, exist_ok=True)
            login.inbound.mkdir(parents=True, exist_ok=True)
            self.logins[login.name] = login
            books = self._books[login.name]
            books.sequence = len(list(login.inbound.iterdir()))
            # files of an earlier run were that run's business; this ledger starts afresh
            books.picked = {p.name: "" for p in login.outbound.iterdir() if _is_delivered(p)}

    def login_of(self, bank: str) -> Login:
        """The company's login at `bank`."""
        return self.logins[f"company-{bank}"]

    # -- payment files ---------------------------------------------------------------------

    def pick_up(self, login: Login) -> int:
        """Book every payment file in `out/` not picked up before; how many were new."""
        new = 0
        with self._lock:
            books = self._books[login.name]
            for path in sorted(login.outbound.iterdir()):
                name = path.name
                if not _is_delivered(path) or name in books.picked:
                    continue  # a delivered file never changes: the server refuses rewrites
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                books.picked[name] = digest
                self._book_file(login, books, name, data, digest)
                new += 1
        return new

    def _book_file(self, login: Login, books: _Books, name: str, data: bytes,
                   digest: str) -> None:
        try:
            payment = read_pain001(data, name)
        except FormatError as exc:
            log.info("sandbox file bank refused %s: %s", name, exc)
            self._answer(login, books, None, name, "RJCT", reason="FF01", text=exc.message)
            return
        request = BatchRequest(batch_id=payment.batch_id, debtor_account=payment.debtor_account,
                               currency=payment.currency, execution_date=payment.execution_date,
                               callback_url=None, orders=payment.lines)
        try:
            answer = self.ledger.submit(login.bank, request, body_hash=digest)
        except Refusal as refusal:
            lines = [] if refusal.http_status == 409 else [
                StatusLine(end_to_end_id=line.instruction_id, status="RJCT",
                           reason=ISO_REASONS[refusal.meaning]) for line in payment.lines]
            self._answer(login, books, payment, payment.message_id, "RJCT",
                         reason=ISO_REASONS[refusal.meaning], text=refusal.message, lines=lines)
            return
        books.files[payment.batch_id] = payment
        books.ids.update(line.instruction_id for line in payment.lines)
        lines = [StatusLine(end_to_end_id=a.instruction_id, status=_TX_STATUS[a.status],
                            reason=ISO_REASONS[a.error] if a.error and a.status
                            is StatusMeaning.REJECTED else None,
                            text=a.error_message) for a in answer.lines]
        statuses = {line.status for line in lines}
        group = "ACCP" if statuses == {"ACCP"} else "RJCT" if statuses == {"RJCT"} else "PART"
        self._answer(login, books, payment, payment.message_id, group, lines=lines)

    def _answer(self, login: Login, books: _Books, payment: PaymentFile | None,
                original_id: str, group: str, *, reason: str | None = None,
                text: str | None = None, lines: list[StatusLine] | None = None) -> None:
        books.sequence += 1
        message_id = f"PAIN002-{books.sequence:06d}"
        data = pain002(message_id=message_id, created_at=self._clock(), original=payment,
                       original_message_id=original_id, group_status=group,
                       group_reason=reason, group_text=text, lines=lines or [])
        self._publish(login, f"PAIN002_{books.sequence:06d}_{_plain(original_id)}.xml", data)

    # -- what happens later ----------------------------------------------------------------

    def on_change(self, change: StatusChange) -> None:
        """A settlement or return of the ledger; kept for the login that sent the order."""
        with self._lock:
            login = self.logins.get(f"company-{change.order.bank}")
            if login is None:
                return
            books = self._books[login.name]
            if change.order.line.instruction_id in books.ids:
                books.pending.append(change)

    def refresh(self, login: Login) -> None:
        """Write what the company has not been told yet: status reports, returns, statements."""
        with self._lock:
            books = self._books[login.name]
            pending, books.pending = books.pending, []
            self._settled(login, books, [c for c in pending
                                         if c.order.status is not StatusMeaning.RETURNED])
            self._returned(login, books, [c for c in pending
                                          if c.order.status is StatusMeaning.RETURNED])
            self._statements(login, books)

    def _settled(self, login: Login, books: _Books, changes: list[StatusChange]) -> None:
        by_batch: dict[str, list[StatusLine]] = defaultdict(list)
        for change in changes:
            by_batch[change.order.batch_id].append(StatusLine(
                end_to_end_id=change.order.line.instruction_id,
                status=_TX_STATUS[change.order.status]))
        for batch_id, lines in by_batch.items():
            payment = books.files.get(batch_id)
            if payment is not None:
                self._answer(login, books, payment, payment.message_id, "ACSC", lines=lines)

    def _returned(self, login: Login, books: _Books, changes: list[StatusChange]) -> None:
        if not changes:
            return
        returns = []
        for change in changes:
            order = change.order
            credit = next(b for b in reversed(self.ledger.bookings(order.bank,
                                                                   order.debtor_account))
                          if b.instruction_id == order.line.instruction_id
                          and b.amount_minor > 0)
            returns.append((credit, ISO_REASONS.get(order.error or ErrorMeaning.INTERNAL,
                                                    "MS03")))
        first = changes[0].order
        books.sequence += 1
        notification = f"CAMT054-{books.sequence:06d}"
        data = camt054(notification_id=notification, created_at=self._clock(),
                       number=first.debtor_account, ccy=first.currency,
                       holder=first.debtor_name, returns=returns)
        self._publish(login, f"CAMT054_{books.sequence:06d}.xml", data)

    def _statements(self, login: Login, books: _Books) -> None:
        """The end-of-day camt.053 of every day, as real banks deliver one a day (also
        without activity), then today's so far; each rewritten only when its entries grew."""
        today = self._clock().astimezone(SHANGHAI).date()
        days = [today - timedelta(days=n) for n in range(HISTORY_DAYS, -1, -1)]
        for spec in self.world.company_accounts():
            if spec.bank == login.bank:
                for day in days:  # oldest first: today's is the newest file
                    self._statement(login, books, spec.number, day)

    def _statement(self, login: Login, books: _Books, number: str, day: date) -> None:
        view = self.ledger.statement(login.bank, number, day)
        mark = f"{number}:{day.isoformat()}"
        if books.statement_marks.get(mark) == len(view.entries):
            return
        books.statement_marks[mark] = len(view.entries)
        books.sequence += 1
        statement_id = f"STMT-{day:%Y%m%d}-{number[-4:]}-{books.sequence:06d}"
        data = camt053(view, statement_id=statement_id, sequence=books.sequence,
                       created_at=self._clock())
        self._publish(login, f"CAMT053_{day:%Y%m%d}_{number[-4:]}_{books.sequence:06d}.xml",
                      data)

    def _publish(self, login: Login, name: str, data: bytes) -> None:
        """Write a file into `in/` atomically: the company never lists a half-written file."""
        temp = login.inbound / f".{name}.tmp"
        temp.write_bytes(data)
        temp.replace(login.inbound / name)


def _is_delivered(path: Path) -> bool:
    name = path.name
    return not name.startswith(".") and not name.endswith(TEMP_SUFFIX) and path.is_file()


def _plain(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:40]
