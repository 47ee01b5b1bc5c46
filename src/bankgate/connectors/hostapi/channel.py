"""The host API channel: the protocol's questions, each a call plus a wire translation.

What an answer that cannot be read means depends on the call: after a submit the bank may
have booked, so it is `OutcomeUnknown`; after a read it is `BankUnavailable` (a read is safe
to repeat), with the raw answer kept as evidence in both cases.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from typing import Final, TypeVar

from bankgate.connectors.base import Capability, SubmitLine
from bankgate.connectors.hostapi.client import Answer, HostApiClient
from bankgate.connectors.hostapi.config import HostApiConfig
from bankgate.connectors.hostapi.receipts import fetch_receipts, verify_receipt
from bankgate.connectors.hostapi.verify import check_account_name
from bankgate.connectors.hostapi.wire import (
    MalformedAnswer,
    batch_request,
    line_bytes,
    to_balances,
    to_entries,
    to_statement,
    to_status_report,
    to_submission_ack,
)
from bankgate.crypto.signed_http import SignedMessage
from bankgate.domain import (
    AccountNumber,
    Balance,
    BankId,
    Batch,
    CompanyAccount,
    InstructionId,
    Statement,
    StatementEntry,
    StatusReport,
    SubmissionAck,
)
from bankgate.domain.receipts import Receipt
from bankgate.domain.verification import NameMatch
from bankgate.errors import BankRejected, BankUnavailable, OutcomeUnknown

__all__ = ["CAPABILITIES", "STATUS_CHUNK", "HostApiChannel"]

T = TypeVar("T")

CAPABILITIES: Final = frozenset({Capability.BALANCES, Capability.HISTORY,
                                 Capability.SUBMIT_BATCH, Capability.STATUS,
                                 Capability.STATEMENT, Capability.CALLBACKS,
                                 Capability.ACCOUNT_NAME_CHECK, Capability.RECEIPTS,
                                 Capability.BANK_CONFIRMATION})
#: Instruction ids per status query (CMB allows ≤ 500, L-08; we hold every bank to it).
STATUS_CHUNK: Final = 500
#: Accounts per balance query (the protocol allows 1–100).
BALANCE_CHUNK: Final = 100
_CALLBACK_MAX_BYTES: Final = 64 * 1024


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
        """Ledger (`INTERIM_BOOKED`) and available (`INTERIM_AVAILABLE`) balance per account."""
        balances: list[Balance] = []
        for start in range(0, len(accounts), BALANCE_CHUNK):
            chunk = accounts[start:start + BALANCE_CHUNK]
            answer = self._client.call("POST", "/balances", safe=True,
                                       body={"accounts": [a.number.reveal() for a in chunk]})
            balances += self._read("balances", answer,
                                   partial(to_balances, answer.body, chunk, self.bank))
        return balances

    def transactions(self, account: CompanyAccount, since: date,
                     until: date) -> Iterator[StatementEntry]:
        """Booked entries between two dates (inclusive), oldest first."""
        path = f"/accounts/{account.number.reveal()}/transactions"
        params = {"from": since.isoformat(), "to": until.isoformat()}
        answer = self._client.call("GET", path, params=params, safe=True)
        origin = f"hostapi:{self.bank}/transactions"
        return iter(self._read("transactions", answer,
                               lambda: to_entries(answer.body, account, origin)))

    def statements(self, account: CompanyAccount, on: date) -> Statement:
        """The end-of-day statement of one day."""
        path = f"/accounts/{account.number.reveal()}/statement"
        answer = self._client.call("GET", path, params={"date": on.isoformat()}, safe=True)
        return self._read("statement", answer,
                          lambda: to_statement(answer.body, account, on, self.bank, answer.raw))

    def submit(self, batch: Batch, debtor: CompanyAccount,
               lines: Sequence[SubmitLine]) -> SubmissionAck:
        """Send a batch; idempotent at the bank on the batch id and every instruction id.

        Raises:
            BankUnavailable: nothing reached the bank (after the allowed retries).
            BankRejected: the whole batch was refused (HTTP 400/422 with a terminal code).
            OutcomeUnknown: the bank may hold the batch: timeout, dropped connection, HTTP
                500, HTTP 409 (batch id held with another body), an unreadable answer.
        """
        body = batch_request(batch, debtor, lines, self.config.callback_url)
        answer = self._client.call("POST", "/payments/batches", body=body, safe=False)
        try:
            return to_submission_ack(answer.body, batch, lines, self._client.dialect,
                                     raw=answer.raw)
        except MalformedAnswer as exc:
            raise OutcomeUnknown(f"{self.bank}: unreadable submit answer for batch {batch.id}: "
                                 f"{exc}", raw=answer.raw) from exc

    def status(self, ids: Sequence[InstructionId]) -> list[StatusReport]:
        """The bank's word on each id, asked in chunks of at most 500 (L-08), in order."""
        reports: list[StatusReport] = []
        for start in range(0, len(ids), STATUS_CHUNK):
            chunk = list(ids[start:start + STATUS_CHUNK])
            answer = self._client.call("POST", "/payments/status",
                                       body={"instruction_ids": chunk}, safe=True)
            reports += self._read("status", answer, partial(self._status_lines, answer, chunk))
        return reports

    def _status_lines(self, answer: Answer, asked: list[InstructionId]) -> list[StatusReport]:
        body = answer.body
        orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(orders, list):
            raise MalformedAnswer("field 'orders' is missing or not a list")
        found = [to_status_report(line, self._client.dialect, raw=line_bytes(line))
                 for line in orders]
        if [r.instruction_id for r in found] != asked:
            raise MalformedAnswer("the answer does not name exactly the ids asked, in order")
        return found

    def verify_callback(self, headers: Mapping[str, str], *, target: str, body: bytes,
                        now: datetime) -> SignedMessage:
        """Check the bank's signature and timestamp on a callback (A-01, A-02, I-07).

        `target` is the path (and query) the callback was posted to. The caller remembers
        the nonce (a database-backed store) before it applies the callback.

        Raises:
            SignatureRefused: unsigned, forged, or signed by a key that is not the bank's.
            StaleOrReplayed: the timestamp is outside ±`clock_window_s`.
        """
        return self._client.verify_callback(headers, target=target, body=body, now=now)

    @property
    def nonce_ttl_s(self) -> float:
        """How long a callback nonce is remembered: past both edges of the window."""
        return 2 * self.config.clock_window_s

    def read_callback(self, body: bytes) -> StatusReport:
        """A status callback (docs/hostapi-protocol.md, Callbacks) as a report."""
        try:
            if len(body) > _CALLBACK_MAX_BYTES:
                raise MalformedAnswer(f"the body is over {_CALLBACK_MAX_BYTES} bytes")
            line = json.loads(body)
            if not isinstance(line, dict) or line.get("bank") not in (None, self.bank):
                raise MalformedAnswer("not a callback of this bank")
            if not isinstance(line.get("callback_id"), str):
                raise MalformedAnswer("field 'callback_id' is missing or not text")
            return to_status_report(line, self._client.dialect, raw=body)
        except (ValueError, MalformedAnswer) as exc:
            raise BankRejected(f"{self.bank}: not a valid callback: {exc}") from exc

    def check_account_name(self, account: AccountNumber, name: str,
                           held_at: BankId | None) -> NameMatch:
        """Whether `name` holds `account` at `held_at` (户名核验; hostapi/verify.py)."""
        return check_account_name(self._client, self.bank, account, name, held_at)

    def receipts(self, account: CompanyAccount, on: date) -> Iterator[Receipt]:
        """The electronic receipts (电子回单) of a day's entries (hostapi/receipts.py)."""
        return iter(fetch_receipts(self._client, self.bank, account, on))

    def verify_receipt(self, receipt_no: str, code: str) -> bool:
        """Whether the bank confirms a receipt's verification code."""
        return verify_receipt(self._client, self.bank, receipt_no, code)

    def _read(self, what: str, answer: Answer, convert: Callable[[], T]) -> T:
        """A read's wire conversion; a malformed answer is a failed (retryable) read."""
        try:
            return convert()
        except (MalformedAnswer, KeyError, TypeError) as exc:
            raise BankUnavailable(f"{self.bank}: malformed {what} answer: {exc}",
                                  raw=answer.raw) from exc
