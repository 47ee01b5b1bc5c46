"""Front-end XML ⇄ domain values, through a bank's table (`banks/<bank>.py`). No I/O.

Requests are GBK packages (`formats/cn_directconnect.py`); a value GBK cannot write is a
`FormatError` naming the record and field, raised before anything is sent. Answers that
break the table (missing field, amount in the wrong scale, a code not in the table) raise
`MalformedAnswer` naming the XPath; the channel decides what that means.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from bankgate.connectors.base import SubmitLine
from bankgate.connectors.frontend.banks import Calls, FrontendBank
from bankgate.domain import (
    Balance,
    BalanceType,
    Batch,
    CompanyAccount,
    Currency,
    EntryKey,
    EntryStatus,
    InstructionId,
    Money,
    Outcome,
    Source,
    Statement,
    StatementEntry,
    StatusReport,
    SubmissionAck,
    mask_numbers,
    parse_amount,
)
from bankgate.errors import BankgateError, DomainError, FormatError
from bankgate.formats.cn_directconnect import Package, Record, write_package

__all__ = ["MalformedAnswer", "Request", "balance_request", "day_balance_request",
           "history_request", "split_writable", "status_request", "submit_request",
           "to_balances", "to_day_balances", "to_entries", "to_status_reports",
           "to_submission_ack"]

_REASON_MAX = 255


class MalformedAnswer(BankgateError):
    """The front-end's answer breaks the bank's table (field, scale, code)."""

    code = "malformed_answer"


class Request:
    """Builds one bank's request packages (INFO header with its login and DATTYP 2)."""

    def __init__(self, bank: FrontendBank, *, login: str, branch: str) -> None:
        self.bank, self.login, self.branch = bank, login, branch
        self.f = bank.fields

    @property
    def calls(self) -> Calls:
        """The bank's transaction codes."""
        return self.bank.calls

    def package(self, function: str, records: Sequence[Record]) -> bytes:
        """A GBK package (FormatError naming the field GBK cannot write)."""
        return write_package({"FUNNAM": function, "DATTYP": "2", "LGNNAM": self.login},
                             records, encoding="GBK", origin=f"frontend:{self.bank.name}")


def balance_request(req: Request, accounts: Sequence[CompanyAccount]) -> bytes:
    """GetAccInfo: one SDKACINFX record per account."""
    call, f = req.calls.balance, req.f
    return req.package(call.function, [Record(call.request, {
        f["branch"]: req.branch, f["account"]: a.number.reveal()}) for a in accounts])


def submit_request(req: Request, batch: Batch, debtor: CompanyAccount,
                   lines: Sequence[SubmitLine]) -> bytes:
    """DCPAYMNT: the business header, then one DCOPDPAYX per order (YURREF = our id)."""
    code = req.bank.currency_code(batch.key.currency.code)
    if code is None:
        raise MalformedAnswer(f"{req.bank.name} has no currency code for "
                              f"{batch.key.currency.code}")
    records = [Record(req.calls.submit_header, dict(req.bank.business))]
    records += [_order_record(req, debtor, line, code) for line in lines]
    return req.package(req.calls.submit.function, records)


def _order_record(req: Request, debtor: CompanyAccount, line: SubmitLine,
                  code: str) -> Record:
    f, bank = req.f, req.bank
    payee_bank = line.payee.bank or bank.name
    return Record(req.calls.submit.request, {
        f["reference"]: line.order.instruction_id, f["debtor"]: debtor.number.reveal(),
        f["debtor_branch"]: req.branch, f["amount"]: f"{line.order.amount.amount:f}",
        f["currency"]: code, f["channel"]: "N", f["purpose"]: line.order.remittance or "",
        f["same_bank"]: "Y" if payee_bank == bank.name else "N",
        f["payee_account"]: line.payee.account.reveal(), f["payee_name"]: line.payee.name,
        f["payee_bank"]: bank.bank_names.get(payee_bank, payee_bank)})


def split_writable(req: Request, debtor: CompanyAccount, lines: Sequence[SubmitLine]
                   ) -> tuple[list[SubmitLine], list[StatusReport]]:
    """The lines GBK can carry, and a `rejected` report (nothing sent) for each other one.

    One payee name with a character GBK lacks must not hold back the rest of the batch.
    """
    writable: list[SubmitLine] = []
    refused: list[StatusReport] = []
    for line in lines:
        try:
            req.package(req.calls.submit.function, [_order_record(req, debtor, line, "")])
        except FormatError as exc:
            refused.append(StatusReport(
                instruction_id=line.order.instruction_id, outcome=Outcome.REJECTED,
                bank_code="GBK", reason_code="NARR",
                reason=mask_numbers(f"not sent: {exc.where.rsplit('/', 1)[-1]} "
                                    f"{exc.message}")[:_REASON_MAX]))
            continue
        writable.append(line)
    return writable, refused


def status_request(req: Request, ids: Sequence[InstructionId], on: date) -> bytes:
    """NTQRYSTY: one NTQRYSTYX1 per 业务参考号, searched from 30 days before `on`."""
    call, f = req.calls.status, req.f
    since = date.fromordinal(on.toordinal() - 30)
    return req.package(call.function, [Record(call.request, {
        f["business_code"]: req.bank.business["BUSCOD"], f["reference"]: iid,
        f["from"]: _ymd(since), f["to"]: _ymd(on)}) for iid in ids])


def history_request(req: Request, account: CompanyAccount, since: date, until: date) -> bytes:
    """GetTransInfo: booked entries of one account between two dates."""
    call, f = req.calls.history, req.f
    return req.package(call.function, [Record(call.request, {
        f["branch"]: req.branch, f["account"]: account.number.reveal(),
        f["from"]: _ymd(since), f["to"]: _ymd(until)})])


def day_balance_request(req: Request, account: CompanyAccount, since: date,
                        until: date) -> bytes:
    """SDKNTQABINF: end-of-day balances of one account."""
    call, f = req.calls.day_balance, req.f
    return req.package(call.function, [Record(call.request, {
        f["branch"]: req.branch, f["account"]: account.number.reveal(),
        f["from"]: _ymd(since), f["to"]: _ymd(until)})])


# -- answers -------------------------------------------------------------------------------


def to_balances(pkg: Package, bank: FrontendBank, accounts: Sequence[CompanyAccount],
                at: datetime) -> list[Balance]:
    """Ledger (ONLBLV) and available (AVLBLV) balance per account, in our account ids."""
    f = bank.fields
    records = {r.fields.get(f["account"]): r for r in pkg.of(bank.calls.balance.answer)}
    balances: list[Balance] = []
    for account in accounts:
        record = records.get(account.number.reveal())
        if record is None:
            raise MalformedAnswer(f"{bank.calls.balance.answer}: no record for "
                                  f"{account.number}")
        _currency_of(record, bank, account.currency)
        source = Source(origin=f"frontend:{bank.name}/balances", where=account.id)
        for type_, code, name in ((BalanceType.INTERIM_BOOKED, "ITBD", "ledger"),
                                  (BalanceType.INTERIM_AVAILABLE, "ITAV", "available")):
            balances.append(Balance(account=account.id, type=type_, code=code, as_of=at,
                                    amount=_amount(record, f[name], account.currency),
                                    source=source))
    return balances


def to_submission_ack(pkg: Package, bank: FrontendBank, batch: Batch,
                      lines: Sequence[SubmitLine], raw: bytes) -> SubmissionAck:
    """The DCPAYMNT answer: one NTQPAYRQZ per order sent, none we did not send or twice."""
    reports = [_report(r, bank) for r in pkg.of(bank.calls.submit.answer)]
    asked = [line.order.instruction_id for line in lines]
    answered = [r.instruction_id for r in reports]
    if sorted(answered) != sorted(asked):
        raise MalformedAnswer(f"{bank.calls.submit.answer}: the answer names {len(answered)} "
                              f"orders, not exactly the {len(asked)} sent")
    return SubmissionAck(batch_id=batch.id, reports=tuple(reports), raw=raw,
                         bank_reference=next((r.bank_reference for r in reports
                                              if r.bank_reference), None))


def to_status_reports(pkg: Package, bank: FrontendBank,
                      asked: Sequence[InstructionId]) -> list[StatusReport]:
    """The NTQRYSTY answer, in the order asked (exactly the ids asked)."""
    found = {r.instruction_id: r for r in map(lambda rec: _report(rec, bank),
                                              pkg.of(bank.calls.status.answer))}
    if sorted(found) != sorted(asked):
        raise MalformedAnswer(f"{bank.calls.status.answer}: the answer does not name "
                              "exactly the ids asked")
    return [found[i] for i in asked]


def _report(record: Record, bank: FrontendBank) -> StatusReport:
    f = bank.fields
    iid = _text(record, f["reference"])
    status, flag = _text(record, f["status"]), record.fields.get(f["result"], "")
    error = record.fields.get(f["error_code"], "") or bank.ok_code
    outcome, bank_code = bank.outcome(status, flag), f"{status}/{flag}" if flag else status
    reason_code = reason = None
    if error != bank.ok_code:
        meaning = bank.line_errors.get(error)
        reason_code = meaning.reason_code if meaning else "NARR"
        text = record.fields.get(f["error_text"], "") or (meaning.text if meaning else "")
        reason = mask_numbers(f"{error}: {text}")[:_REASON_MAX]
        if error == bank.duplicate_code:
            outcome, bank_code = Outcome.RECEIVED, error
    return StatusReport(instruction_id=InstructionId(iid), outcome=outcome,
                        bank_code=bank_code, reason_code=reason_code, reason=reason,
                        bank_reference=record.fields.get(f["bank_reference"]) or None,
                        raw=_raw(record))


def to_entries(pkg: Package, bank: FrontendBank, account: CompanyAccount,
               origin: str) -> list[StatementEntry]:
    """The GetTransInfo answer: booked entries keyed by the bank's serial (REFNBR)."""
    return [_entry(r, bank, account, origin) for r in pkg.of(bank.calls.history.answer)]


def _entry(record: Record, bank: FrontendBank, account: CompanyAccount,
           origin: str) -> StatementEntry:
    f = bank.fields
    serial = _text(record, f["serial"])
    direction = _text(record, f["direction"])
    if direction not in ("C", "D"):
        raise MalformedAnswer(f"{record.where}/{f['direction']}: {direction!r} is not C or D")
    amount = _amount(record, f["credit" if direction == "C" else "debit"], account.currency)
    _amount(record, f["balance_after"], account.currency)  # checked: a wrong scale is malformed
    booked = _date(record, f["booking_date"])
    value = _date(record, f["value_date"]) if record.fields.get(f["value_date"]) else booked
    reference = record.fields.get(f["reference"]) or None
    return StatementEntry(
        key=EntryKey("bank_reference", serial), amount=amount if direction == "C" else -amount,
        status=EntryStatus.BOOKED, booking_date=booked, value_date=value,
        bank_reference=serial, end_to_end_id=reference, instruction_id=reference,
        counterparty_name=record.fields.get(f["counterparty_name"]) or None,
        counterparty_account=record.fields.get(f["counterparty_account"]) or None,
        remittance=record.fields.get(f["purpose"]) or None,
        source=Source(origin=origin, where=record.where), raw=_raw(record))


def to_day_balances(pkg: Package, bank: FrontendBank, account: CompanyAccount) -> dict[date,
                                                                                       Money]:
    """End-of-day balances by date from the SDKNTQABINF answer."""
    f = bank.fields
    return {_date(r, f["day"]): _amount(r, f["day_balance"], account.currency)
            for r in pkg.of(bank.calls.day_balance.answer)}


def to_statement(entries: list[StatementEntry], closings: dict[date, Money],
                 account: CompanyAccount, on: date, bank: str, raw: bytes) -> Statement:
    """A day's statement: opening = the previous day's closing, closing = that day's."""
    before = date.fromordinal(on.toordinal() - 1)
    if on not in closings or before not in closings:
        raise MalformedAnswer(f"no end-of-day balance for {before} and {on}")
    origin = f"frontend:{bank}/statement/{on.isoformat()}"
    at = datetime.combine(on, time.min, UTC)
    source = Source(origin=origin)
    opening = Balance(account=account.id, type=BalanceType.OPENING_BOOKED, code="OPBD",
                      amount=closings[before], as_of=at, source=source)
    closing = Balance(account=account.id, type=BalanceType.CLOSING_BOOKED, code="CLBD",
                      amount=closings[on], as_of=at, source=source)
    digest = hashlib.sha256(f"{bank}|{account.number.reveal()}|{on}".encode()).hexdigest()
    return Statement(id=f"st_{digest[:32]}", account=account.id, currency=account.currency,
                     opening=opening, closing=closing, entries=tuple(entries), source=source,
                     on=on, raw=raw, balances=(opening, closing))


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def _raw(record: Record) -> bytes:
    return write_package({}, [record], encoding="UTF-8")


def _text(record: Record, name: str) -> str:
    value = record.fields.get(name, "")
    if not value:
        raise MalformedAnswer(f"{record.where}/{name}: missing or empty")
    return value


def _date(record: Record, name: str) -> date:
    text = _text(record, name)
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise MalformedAnswer(f"{record.where}/{name}: {text!r} is not a date "
                              "YYYYMMDD") from None


def _amount(record: Record, name: str, cur: Currency) -> Money:
    """A plain amount in exactly the currency's scale (the bank writes "1.01", not "1.010")."""
    text = _text(record, name)
    try:
        money = parse_amount(text.removeprefix("-"), cur, field=name)
    except DomainError as exc:
        raise MalformedAnswer(f"{record.where}/{name}: {exc}") from exc
    if f"{money.amount:f}" != text.removeprefix("-"):
        raise MalformedAnswer(f"{record.where}/{name}: {text!r} is not in {cur.code}'s scale")
    return -money if text.startswith("-") else money


def _currency_of(record: Record, bank: FrontendBank, expected: Currency) -> Any:
    code = _text(record, bank.fields["currency"])
    if bank.currencies.get(code) != expected.code:
        raise MalformedAnswer(f"{record.where}/{bank.fields['currency']}: {code!r} is not "
                              f"{expected.code}")
    return code
