"""The front-end processor channel (前置机): the protocol's questions as bank transactions.

Each call builds a GBK package with the bank's transaction code (`wire.py`), posts it to the
front-end (`client.py`) and reads the bank's answer through its table. What an unreadable
answer means depends on the call: after a submit the bank may have booked (`OutcomeUnknown`:
ask with a status query); after a read it is a failed read (`BankUnavailable`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Final, TypeVar

from bankgate.connectors.base import Capability, SubmitLine
from bankgate.connectors.frontend import wire
from bankgate.connectors.frontend.client import FrontendClient
from bankgate.connectors.frontend.config import FrontendConfig
from bankgate.domain import (
    Balance,
    Batch,
    CompanyAccount,
    InstructionId,
    Statement,
    StatementEntry,
    StatusReport,
    SubmissionAck,
)
from bankgate.errors import BankRejected, BankUnavailable, FormatError, OutcomeUnknown, Unsupported
from bankgate.formats.cn_directconnect import Package

__all__ = ["CAPABILITIES", "FrontendChannel"]

T = TypeVar("T")

CAPABILITIES: Final = frozenset({Capability.BALANCES, Capability.HISTORY,
                                 Capability.SUBMIT_BATCH, Capability.STATUS,
                                 Capability.STATEMENT})
_BALANCE_CHUNK: Final = 20


class FrontendChannel:
    """A bank reached through its front-end processor, XML in GBK."""

    kind = "frontend"
    capabilities = CAPABILITIES

    def __init__(self, config: FrontendConfig) -> None:
        self.bank = config.bank
        self.config = config
        self._client = FrontendClient(config)
        self._request = wire.Request(self._client.bank, login=config.login,
                                     branch=config.branch)
        self._table = self._client.bank

    def close(self) -> None:
        """Close connections."""
        self._client.close()

    def balances(self, accounts: Sequence[CompanyAccount]) -> list[Balance]:
        """Ledger (ONLBLV) and available (AVLBLV) balance per account."""
        found: list[Balance] = []
        for start in range(0, len(accounts), _BALANCE_CHUNK):
            chunk = accounts[start:start + _BALANCE_CHUNK]
            package, raw = self._read(self._request.calls.balance.function,
                                      self._build(wire.balance_request, chunk))
            found += self._convert("balances", raw, partial(
                wire.to_balances, package, self._table, chunk, datetime.now(UTC)))
        return found

    def transactions(self, account: CompanyAccount, since: date,
                     until: date) -> Iterator[StatementEntry]:
        """Booked entries between two dates (inclusive)."""
        package, raw = self._read(self._request.calls.history.function,
                                  self._build(wire.history_request, account, since, until))
        origin = f"frontend:{self.bank}/transactions"
        return iter(self._convert("transactions", raw,
                                  lambda: wire.to_entries(package, self._table, account,
                                                          origin)))

    def statements(self, account: CompanyAccount, on: date) -> Statement:
        """A day's statement: its entries, and the end-of-day balances of it and the day before."""
        entries = list(self.transactions(account, on, on))
        before = date.fromordinal(on.toordinal() - 1)
        package, raw = self._read(self._request.calls.day_balance.function,
                                  self._build(wire.day_balance_request, account, before, on))
        closings = self._convert("day balances", raw,
                                 lambda: wire.to_day_balances(package, self._table, account))
        return self._convert("statement", raw, lambda: wire.to_statement(
            entries, closings, account, on, self.bank, raw))

    def submit(self, batch: Batch, debtor: CompanyAccount,
               lines: Sequence[SubmitLine]) -> SubmissionAck:
        """DCPAYMNT: one order line per payment, our instruction id as 业务参考号 (YURREF).

        An order whose name or text GBK cannot write is not sent: its line in the answer is
        `rejected` (bank code `GBK`, the field and character named); the others go.

        Raises:
            BankRejected: the bank refused the package.
            BankUnavailable: nothing reached the bank.
            OutcomeUnknown: the bank may hold the orders (lost, failed or unreadable answer).
        """
        writable, refused = wire.split_writable(self._request, debtor, lines)
        if not writable:
            return SubmissionAck(batch_id=batch.id, reports=tuple(refused), raw=b"",
                                 bank_reference=None)
        body = self._build(wire.submit_request, batch, debtor, writable)
        package, raw = self._client.call(self._request.calls.submit.function, body, safe=False)
        try:
            ack = wire.to_submission_ack(package, self._table, batch, writable, raw)
        except wire.MalformedAnswer as exc:
            raise OutcomeUnknown(f"{self.bank}: unreadable submit answer for batch {batch.id}: "
                                 f"{exc}", raw=raw[:65536]) from exc
        return replace(ack, reports=(*ack.reports, *refused))

    def status(self, ids: Sequence[InstructionId]) -> list[StatusReport]:
        """The bank's word on each 业务参考号, in chunks the bank allows, in order."""
        reports: list[StatusReport] = []
        step = self._table.max_status_ids
        today = datetime.now(UTC).date()
        for start in range(0, len(ids), step):
            chunk = list(ids[start:start + step])
            package, raw = self._read(self._request.calls.status.function,
                                      self._build(wire.status_request, chunk, today))
            reports += self._convert("status", raw, partial(
                wire.to_status_reports, package, self._table, chunk))
        return reports

    def receipts(self, account: CompanyAccount, on: date) -> Iterator[object]:
        """Electronic receipts are not offered by this channel yet."""
        raise Unsupported(f"{self.bank}: the front-end channel offers no receipts")

    def _build(self, build: Callable[..., bytes], *args: object) -> bytes:
        try:
            return build(self._request, *args)
        except (FormatError, wire.MalformedAnswer) as exc:
            raise BankRejected(f"{self.bank}: cannot write the request: {exc}") from exc

    def _read(self, function: str, body: bytes) -> tuple[Package, bytes]:
        return self._client.call(function, body, safe=True)

    def _convert(self, what: str, raw: bytes, convert: Callable[[], T]) -> T:
        try:
            return convert()
        except wire.MalformedAnswer as exc:
            raise BankUnavailable(f"{self.bank}: malformed {what} answer: {exc}",
                                  raw=raw[:65536]) from exc
