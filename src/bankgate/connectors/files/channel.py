"""The file-exchange channel (EDI/H2H over SFTP): pain.001 out; pain.002, camt, MT940 in.

Stateless: it keeps no record of what was processed (the services do, by content hash); it
lists and fetches, and answers the protocol's questions from the files it finds. Parsed
files are cached by (name, size, modification time) only to save work.

- `submit` writes the batch's pain.001 under a name derived from the batch id, with
  content derived from the batch alone (its creation time as CreDtTm), so a resend is the
  same file; a file already there with the same bytes means it was sent, with other bytes
  it is refused (never two files for one batch, never an overwrite).
- `status` merges every pain.002 (and the returns of every camt.054) in the inbound
  directory; an id without a report is `received` when one of our uploaded files holds
  it, else `not_found`.
- `statements` and `balances` come from the newest camt.053 (or MT940) of the account.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Final, TypeVar

from bankgate.connectors.base import Capability, SubmitLine
from bankgate.connectors.files.config import FilesConfig
from bankgate.connectors.files.wire import (
    SAFE_NAME,
    STATEMENT_KINDS,
    STATUS_KINDS,
    RemoteFile,
    UnsafeName,
    ack_raw,
    check_name,
    kind_of,
    merge_reports,
    outbound_name,
    pain001_ids,
    return_reports,
    sha256,
    status_reports,
)
from bankgate.domain import (
    Balance,
    BalanceType,
    Batch,
    CompanyAccount,
    InstructionId,
    Money,
    Outcome,
    Source,
    Statement,
    StatementEntry,
    StatusReport,
    SubmissionAck,
)
from bankgate.errors import (
    BankRejected,
    BankUnavailable,
    DomainError,
    FormatError,
    OutcomeUnknown,
    Unsupported,
)
from bankgate.formats.iso20022.pain001 import write_pain001

if TYPE_CHECKING:
    from bankgate.connectors.files.sftp import SftpClient

__all__ = ["CAPABILITIES", "FilesChannel", "InboundFile", "Listing"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Balances come from the newest statement file, not in real time (docs/file-channel.md).
CAPABILITIES: Final = frozenset({Capability.SUBMIT_BATCH, Capability.STATUS,
                                 Capability.STATEMENT, Capability.BALANCES})
_CACHED: Final = 512
_AVAILABLE: Final = (BalanceType.INTERIM_AVAILABLE, BalanceType.CLOSING_AVAILABLE)


@dataclass(frozen=True, slots=True)
class Listing:
    """The inbound directory: plain files with their kinds, and the names refused."""

    files: tuple[tuple[RemoteFile, str | None], ...]
    refused: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InboundFile:
    """One fetched bank file: its name, announced kind, SHA-256 and bytes."""

    name: str
    kind: str | None
    sha256: str
    content: bytes
    size: int
    mtime: int


class FilesChannel:
    """A bank reached by file exchange over SFTP."""

    kind = "files"
    capabilities = CAPABILITIES

    def __init__(self, config: FilesConfig) -> None:
        self.bank = config.bank
        self.config = config
        self.max_file_bytes = config.max_file_bytes
        self.collect_every_s = config.collect_every_s
        # deferred: asyncssh takes ~0.2 s to import; only a configured file bank needs it
        from bankgate.connectors.files.sftp import SftpClient

        self.client: SftpClient = SftpClient(config)
        self._parsed: OrderedDict[tuple[str, int, int], object] = OrderedDict()
        self._cache_lock = threading.Lock()

    def close(self) -> None:
        """Close the SFTP session."""
        self.client.close()

    # -- listing and fetching (for the services) ---------------------------------------------

    def inbound(self) -> Listing:
        """Every plain file in the inbound directory (sorted by name) and the names refused."""
        files, refused = [], []
        for remote in self.client.listdir(self.config.inbound_dir):
            if _is_hidden(remote.name):
                continue  # a file the bank is still writing (".NAME.tmp")
            try:
                check_name(remote.name, where=f"{self.bank}:{self.config.inbound_dir}")
            except UnsafeName as exc:
                log.warning("refused a remote file name", extra={"bank": self.bank,
                                                                 "error": str(exc)})
                refused.append(remote.name)
                continue
            files.append((remote, kind_of(remote.name)))
        return Listing(tuple(files), tuple(refused))

    def fetch(self, name: str) -> InboundFile:
        """One inbound file, whole (resumed after a broken connection)."""
        check_name(name, where=f"{self.bank}:{self.config.inbound_dir}")
        path = f"{self.config.inbound_dir}/{name}"
        remote = self.client.stat(path)
        if remote is None:
            raise BankUnavailable(f"{self.bank}: {path} is not there")
        content = self.client.read(path)
        return InboundFile(name, kind_of(name), sha256(content), content, len(content),
                           remote.mtime)

    def outbound(self) -> list[RemoteFile]:
        """Our delivered files (temporary `.part` names left out)."""
        return [f for f in self.client.listdir(self.config.outbound_dir)
                if not f.name.endswith(".part") and not f.name.startswith(".")]

    def fetch_outbound(self, name: str) -> bytes:
        """One of our delivered files, as the bank holds it."""
        check_name(name, where=f"{self.bank}:{self.config.outbound_dir}")
        return self.client.read(f"{self.config.outbound_dir}/{name}")

    # -- the protocol ------------------------------------------------------------------------

    def submit(self, batch: Batch, debtor: CompanyAccount,
               lines: Sequence[SubmitLine]) -> SubmissionAck:
        """Deliver the batch's pain.001 once (K-12, K-13): temporary name, then rename.

        Raises:
            BankUnavailable: nothing was delivered (connection, login, temporary write).
            BankRejected: no valid pain.001 can be written for these orders (nothing sent).
            OutcomeUnknown: the rename may have happened; or the bank holds other bytes
                under this batch's name.
        """
        name = outbound_name(batch)
        data = self._pain001(batch, debtor, lines)
        digest = sha256(data)
        path = f"{self.config.outbound_dir}/{name}"
        already = self.client.stat(path) is not None
        if not already:
            try:
                self.client.upload_atomic(self.config.outbound_dir, name, data)
            except FileExistsError:
                already = True  # delivered meanwhile (an earlier attempt's rename)
        if already:
            held = self.client.read(path)
            if sha256(held) != digest:
                raise OutcomeUnknown(f"{self.bank}: {path} holds another file for batch "
                                     f"{batch.id}; not overwritten, ask for the status")
        log.info("pain.001 delivered", extra={"bank": self.bank, "file": name,
                                              "already_there": already})
        reports = tuple(StatusReport(instruction_id=line.order.instruction_id,
                                     outcome=Outcome.RECEIVED, bank_code="DELIVERED")
                        for line in lines)
        return SubmissionAck(batch_id=batch.id, bank_reference=name, reports=reports,
                             raw=ack_raw(name, digest, len(data), already_there=already))

    def _pain001(self, batch: Batch, debtor: CompanyAccount,
                 lines: Sequence[SubmitLine]) -> bytes:
        orders = [line.order for line in lines]
        ids = tuple(o.instruction_id for o in orders)
        if ids != batch.instruction_ids:  # some orders left the batch (cancelled): send the rest
            total = sum((o.amount.amount for o in orders), Decimal(0))
            batch = replace(batch, order_ids=tuple(o.id for o in orders), instruction_ids=ids,
                            total=Money(total, batch.total.currency))
        try:
            return write_pain001(batch, debtor, orders, version=self.config.pain001_version,
                                 created_at=batch.created_at,
                                 initiating_party=self.config.initiating_party)
        except (DomainError, FormatError) as exc:
            raise BankRejected(f"{self.bank}: no valid pain.001 for batch {batch.id}: "
                               f"{exc}") from exc

    def status(self, ids: Sequence[InstructionId]) -> list[StatusReport]:
        """The bank's word on each id, from every status file in the inbound directory."""
        known: dict[str, StatusReport] = {}
        for remote, kind in self.inbound().files:
            if kind in STATUS_KINDS:
                merge_reports(known, self._cached(remote, self._reports))
        missing = [i for i in ids if i not in known]
        held = self._uploaded_ids() if missing else frozenset()
        return [known.get(i) or StatusReport(
                    instruction_id=i,
                    outcome=Outcome.RECEIVED if i in held else Outcome.NOT_FOUND,
                    bank_code="DELIVERED" if i in held else "NO_FILE")
                for i in ids]

    def statements(self, account: CompanyAccount, on: date) -> Statement:
        """The account's statement of `on` from the newest statement file that has it."""
        for remote, statement in self._statement_files(on):
            if _is_for(statement, account) and statement.on == on:
                log.debug("statement found", extra={"bank": self.bank, "file": remote.name})
                return statement
        raise BankUnavailable(f"{self.bank}: no statement file for {account.number} on "
                              f"{on} yet")

    def balances(self, accounts: Sequence[CompanyAccount]) -> list[Balance]:
        """Closing booked and available balances of each account's newest statement file,
        as of when the bank wrote it (not real-time)."""
        found: list[Balance] = []
        wanted = list(accounts)
        for remote, statement in self._statement_files(None):
            for account in [a for a in wanted if _is_for(statement, a)]:
                if statement.closing is not None:
                    source = Source(origin=f"files:{self.bank}/{remote.name}")
                    found += [replace(b, account=account.id, source=source,
                                      as_of=_as_of(b, statement))
                              for b in _cash_balances(statement)]
                    wanted.remove(account)
            if not wanted:
                break
        return found

    def transactions(self, account: CompanyAccount, since: date,
                     until: date) -> Iterator[StatementEntry]:
        """History is read from statement files (`statements`), not asked for."""
        raise Unsupported(f"{self.bank}: the file channel offers no history query")

    def receipts(self, account: CompanyAccount, on: date) -> Iterator[object]:
        """Electronic receipts are not offered by this channel."""
        raise Unsupported(f"{self.bank}: the file channel offers no receipts")

    # -- parsing, cached ---------------------------------------------------------------------

    def _cached(self, remote: RemoteFile, parse: Callable[[RemoteFile], T], *,
                space: str = "in") -> T:
        key = (f"{space}/{remote.name}", remote.size, remote.mtime)
        with self._cache_lock:  # worker threads poll several batches at once
            if key in self._parsed:
                self._parsed.move_to_end(key)
                return self._parsed[key]  # type: ignore[return-value]
        value = parse(remote)
        with self._cache_lock:
            self._parsed[key] = value
            while len(self._parsed) > _CACHED:
                self._parsed.popitem(last=False)
        return value

    def _reports(self, remote: RemoteFile) -> list[StatusReport]:
        from bankgate.formats.parse import read_statement_file  # openpyxl, see _statements_of

        content = self.fetch(remote.name).content
        origin = f"{self.bank}:{remote.name}"
        try:
            if kind_of(remote.name) == "camt.054":
                return return_reports(read_statement_file(content, origin)[1], content)
            return status_reports(content, origin)
        except FormatError as exc:
            log.warning("unreadable status file skipped", extra={"bank": self.bank,
                                                                 "error": str(exc)})
            return []

    def _statements_of(self, remote: RemoteFile) -> list[Statement]:
        # deferred: formats.parse pulls in openpyxl (~0.15 s) for the spreadsheet profiles
        from bankgate.formats.parse import read_statement_file

        content = self.fetch(remote.name).content
        try:
            _, statements = read_statement_file(content, f"{self.bank}:{remote.name}")
        except FormatError as exc:
            log.warning("unreadable statement file skipped", extra={"bank": self.bank,
                                                                    "error": str(exc)})
            return []
        return [replace(s, raw=content) for s in statements]

    def _statement_files(self, on: date | None) -> Iterator[tuple[RemoteFile, Statement]]:
        """Statements of camt.053/MT940 files, newest file first (for `on`'s files first)."""
        files = [r for r, kind in self.inbound().files
                 if kind in STATEMENT_KINDS and kind != "camt.054"]
        if on is not None:
            tokens = (f"{on:%Y%m%d}", on.isoformat())
            dated = [r for r in files if any(t in r.name for t in tokens)]
            files = dated or files
        for remote in sorted(files, key=lambda r: (r.mtime, r.name), reverse=True):
            for statement in self._cached(remote, self._statements_of):
                yield remote, statement

    def _uploaded_ids(self) -> frozenset[str]:
        ids: set[str] = set()
        for remote in self.outbound():
            ids |= self._cached(remote, lambda r: pain001_ids(self.fetch_outbound(r.name),
                                                              r.name), space="out")
        return frozenset(ids)


def _cash_balances(statement: Statement) -> list[Balance]:
    """The closing booked balance and, when the bank sent one, the available (ITAV/CLAV)."""
    assert statement.closing is not None
    booked = replace(statement.closing, type=BalanceType.CLOSING_BOOKED)
    available = next((b for kind in _AVAILABLE for b in statement.balances if b.type is kind),
                     None)
    return [booked] if available is None else [booked, available]


def _as_of(balance: Balance, statement: Statement) -> datetime:
    """A balance dated by day only is as of the statement's creation (CreDtTm), but never
    later than the end of its day; a balance with its own time (Dt/DtTm) keeps it."""
    created = statement.created_at
    if created is None or balance.as_of.timetz().replace(tzinfo=None) != time():
        return balance.as_of
    day_end = datetime.combine(balance.as_of.date() + timedelta(days=1), time(),
                               created.tzinfo)
    return min(created, day_end)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") and ".." not in name and SAFE_NAME.fullmatch(name[1:]) is not None


def _is_for(statement: Statement, account: CompanyAccount) -> bool:
    number = account.number.reveal()
    return number in (statement.account, statement.iban) and \
        statement.currency == account.currency
