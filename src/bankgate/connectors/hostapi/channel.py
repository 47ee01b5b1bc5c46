"""The host API channel: the six protocol questions, each a call plus a wire translation."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Final

from bankgate.connectors.base import Capability, SubmitLine
from bankgate.connectors.hostapi.client import HostApiClient
from bankgate.connectors.hostapi.config import HostApiConfig
from bankgate.connectors.hostapi.wire import (
    MalformedAnswer,
    batch_request,
    line_bytes,
    to_balances,
    to_entry,
    to_statement,
    to_status_report,
)
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
from bankgate.errors import BankRejected, BankUnavailable, OutcomeUnknown, Unsupported

__all__ = ["CAPABILITIES", "HostApiChannel"]

CAPABILITIES: Final = frozenset({Capability.BALANCES, Capability.HISTORY,
                                 Capability.SUBMIT_BATCH, Capability.STATUS,
                                 Capability.STATEMENT, Capability.CALLBACKS})
#: Instruction ids per status query (CMB allows ≤ 500, L-08; we hold every bank to it).
STATUS_CHUNK: Final = 500


class HostApiChannel:
    """A bank reached through its open API (银行开放API), JSON over HTTPS."""

    kind = "hostapi"
    capabilities = CAPABILITIES

    def __init__(self, config: HostApiConfig) -> None:
        self.bank = config.bank
        self.config = config
        self._client = HostApiClient(config)

    def close(self) -> None:
        """Close connections."""
        self._client.close()

    def balances(self, accounts: Sequence[CompanyAccount]) -> list[Balance]:
        """Ledger and available balance of each account, real time."""
        body = {"accounts": [a.number.reveal() for a in accounts]}
        answer, _ = self._client.call("POST", "/balances", body=body, safe=True)
        return _read(lambda: to_balances(answer, accounts, self.bank))

    def transactions(self, account: CompanyAccount, since: date,
                     until: date) -> Iterator[StatementEntry]:
        """Booked entries between two dates (inclusive), oldest first."""
        path = f"/accounts/{account.number.reveal()}/transactions"
        params = {"from": since.isoformat(), "to": until.isoformat()}
        answer, _ = self._client.call("GET", path, params=params, safe=True)
        origin = f"hostapi:{self.bank}/transactions"
        entries = _read(lambda: [to_entry(e, account, origin) for e in answer["entries"]])
        return iter(entries)

    def statements(self, account: CompanyAccount, on: date) -> Statement:
        """The end-of-day statement of one day."""
        path = f"/accounts/{account.number.reveal()}/statement"
        answer, raw = self._client.call("GET", path, params={"date": on.isoformat()}, safe=True)
        return _read(lambda: to_statement(answer, account, on, self.bank, raw))

    def submit(self, batch: Batch, debtor: CompanyAccount,
               lines: Sequence[SubmitLine]) -> SubmissionAck:
        """Send a batch; idempotent at the bank on the batch id and every instruction id."""
        body = batch_request(batch, debtor, lines, self.config.callback_url)
        answer, raw = self._client.call("POST", "/payments/batches", body=body, safe=False)
        asked = {line.order.instruction_id for line in lines}
        try:
            reports = tuple(to_status_report(line, self._client.dialect, raw=line_bytes(line))
                            for line in answer["orders"])
            if answer.get("batch_id") != batch.id:
                raise MalformedAnswer("the answer names another batch")
        except (MalformedAnswer, KeyError, TypeError) as exc:
            raise OutcomeUnknown(f"{self.bank}: unreadable submit answer: {exc}",
                                 raw=raw) from exc
        strangers = {r.instruction_id for r in reports} - asked
        if strangers:
            raise OutcomeUnknown(f"{self.bank}: the answer names {len(strangers)} instruction "
                                 "ids that were not sent", raw=raw)
        return SubmissionAck(batch_id=batch.id, bank_reference=answer.get("bank_reference"),
                             reports=reports, raw=raw)

    def status(self, ids: Sequence[InstructionId]) -> list[StatusReport]:
        """The bank's word on each id, asked in chunks of at most 500."""
        reports: list[StatusReport] = []
        for start in range(0, len(ids), STATUS_CHUNK):
            chunk = list(ids[start:start + STATUS_CHUNK])
            answer, _ = self._client.call("POST", "/payments/status",
                                            body={"instruction_ids": chunk}, safe=True)
            found = _read(lambda a=answer: [  # type: ignore[misc]
                to_status_report(line, self._client.dialect, raw=line_bytes(line))
                for line in a["orders"]])
            if {r.instruction_id for r in found} - set(chunk):
                raise BankUnavailable(f"{self.bank}: status answer names ids not asked about")
            reports.extend(found)
        return reports

    def read_callback(self, body: bytes) -> StatusReport:
        """A status callback (docs/hostapi-protocol.md, Callbacks) as a report."""
        try:
            line = json.loads(body)
            if not isinstance(line, dict) or line.get("bank") not in (None, self.bank):
                raise MalformedAnswer("not a callback of this bank")
            _ = line["callback_id"]
            return to_status_report(line, self._client.dialect, raw=body[:4000])
        except (ValueError, KeyError, MalformedAnswer) as exc:
            raise BankRejected(f"{self.bank}: not a valid callback: {exc}") from exc

    def receipts(self, account: CompanyAccount, on: date) -> Iterator[object]:
        """Electronic receipts are not offered by this channel (yet)."""
        raise Unsupported(f"{self.bank}: the host API channel offers no receipts")


def _read(convert):  # type: ignore[no-untyped-def]
    """Run a wire conversion of a read; a malformed answer is a retryable bank failure."""
    try:
        return convert()
    except (MalformedAnswer, KeyError, TypeError) as exc:
        raise BankUnavailable(f"malformed answer from the bank: {exc}") from exc
