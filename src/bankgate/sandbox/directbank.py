"""The bank behind the front-end: CMB-style direct-connect XML on the shared sandbox ledger.

It answers only its front-end (mutual TLS with the test CA), only packages signed with the
front-end's token key (SM2-SM3, `signed_http`: timestamp, nonce, digest), and signs every
answer. Transaction codes and fields are CMB's (connectors/frontend/banks/cmb.py tells the
gateway's side; this is the bank's own reading). Packages are parsed only through
`formats/cn_directconnect.py` (the hardened parser). Money moves on the same `Ledger` as
the host API banks, so it is conserved and rejections are real.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Final

from bankgate.formats.cn_directconnect import Package, Record, write_package
from bankgate.sandbox.dialects import ErrorMeaning, StatusMeaning
from bankgate.sandbox.ledger import SHANGHAI, Ledger
from bankgate.sandbox.records import BatchRequest, Booking, Order, OrderLine, Refusal
from bankgate.sandbox.wire import amount_text

__all__ = ["BankRefusal", "DirectBank"]

#: StatusMeaning → (REQSTS, RTNFLG).
STATUSES: Final = {
    StatusMeaning.RECEIVED: ("NTE", ""), StatusMeaning.AWAITING_CONFIRMATION: ("AUT", ""),
    StatusMeaning.ACCEPTED: ("BNK", ""), StatusMeaning.SETTLED: ("FIN", "S"),
    StatusMeaning.REJECTED: ("FIN", "F"), StatusMeaning.RETURNED: ("FIN", "B"),
    StatusMeaning.NOT_FOUND: ("NOF", ""),
}
#: ErrorMeaning → ERRCOD of an order line.
ERRORS: Final = {
    ErrorMeaning.INSUFFICIENT_FUNDS: "E0105", ErrorMeaning.UNKNOWN_ACCOUNT: "E0201",
    ErrorMeaning.CLOSED_ACCOUNT: "E0202", ErrorMeaning.NAME_MISMATCH: "E0203",
    ErrorMeaning.UNKNOWN_DEBTOR: "E0204", ErrorMeaning.DUPLICATE_INSTRUCTION: "E0301",
    ErrorMeaning.INVALID_REQUEST: "E0001", ErrorMeaning.INTERNAL: "E9999",
    ErrorMeaning.BUSY: "E9999", ErrorMeaning.RATE_LIMITED: "E9999",
}
_BANK_IDS: Final = {"招商银行": "cmb", "中国工商银行": "icbc", "中国银行": "boc",
                    "中国农业银行": "abc", "中国建设银行": "ccb"}
_CURRENCIES: Final = {"10": "CNY", "21": "HKD", "32": "USD", "35": "EUR"}
OK: Final = "SUC0000"


class BankRefusal(Exception):
    """A package the bank refuses as a whole: its RETCOD and message."""

    def __init__(self, retcod: str, message: str) -> None:
        self.retcod, self.message = retcod, message
        super().__init__(message)


class DirectBank:
    """One bank's direct-connect transactions over the ledger (bank id `bank`)."""

    def __init__(self, ledger: Ledger, bank: str, now: Callable[[], datetime]) -> None:
        self.ledger, self.bank, self.now = ledger, bank, now
        self._handlers: dict[str, tuple[str, Callable[[Package], list[Record]]]] = {
            "GetAccInfo": ("balances", self._balances),
            "DCPAYMNT": ("submit", self._submit),
            "NTQRYSTY": ("status", self._status),
            "GetTransInfo": ("transactions", self._history),
            "SDKNTQABINF": ("statement", self._day_balances),
        }

    def op_of(self, package: Package) -> str:
        """The fault-knob operation a package is (balances, submit, …)."""
        handler = self._handlers.get(package.function)
        if handler is None:
            raise BankRefusal("-1", f"FUNNAM {package.function!r}: not a transaction code")
        return handler[0]

    def answer(self, package: Package) -> bytes:
        """The answer package (RETCOD 0, or the refusal's), GBK."""
        try:
            records = self._handlers[package.function][1](package)
        except Refusal as refusal:
            code = "-9" if refusal.http_status in (429, 503) else \
                "-2" if refusal.http_status >= 500 or refusal.http_status == 409 else "-1"
            return self.refusal(package.function, code, refusal.message)
        except BankRefusal as refusal:
            return self.refusal(package.function, refusal.retcod, refusal.message)
        return write_package(_info(package.function, "0", ""), records, encoding="GBK")

    @staticmethod
    def refusal(function: str, retcod: str, message: str) -> bytes:
        """A package-level refusal."""
        return write_package(_info(function, retcod, message[:200]), [], encoding="GBK")

    def _today(self) -> date:
        return self.now().astimezone(SHANGHAI).date()

    def _balances(self, package: Package) -> list[Record]:
        numbers = [_field(r, "ACCNBR") for r in _records(package, "SDKACINFX", 1, 100)]
        return [Record("NTQACINFZ", {
            "ACCNBR": s.number, "ACCNAM": s.holder, "CCYNBR": _ccy_code(s.currency),
            "ONLBLV": amount_text(s.balance_minor, s.currency),
            "AVLBLV": amount_text(s.balance_minor, s.currency), "STSCOD": "A"})
            for s in self.ledger.balances(self.bank, numbers)]

    def _submit(self, package: Package) -> list[Record]:
        records = _records(package, "DCOPDPAYX", 1, 1000)
        debtors = {_field(r, "DBTACC") for r in records}
        codes = {_field(r, "CCYNBR") for r in records}
        if len(debtors) != 1 or len(codes) != 1:
            raise BankRefusal("-1", "DCOPDPAYX: one DBTACC and one CCYNBR per package")
        currency = _CURRENCIES.get(codes.pop())
        if currency is None:
            raise BankRefusal("-1", "DCOPDPAYX/CCYNBR: not a currency code")
        orders = tuple(_order(r, currency) for r in records)
        refs = "|".join(sorted(o.instruction_id for o in orders))
        digest = hashlib.sha256(repr([sorted(r.fields.items()) for r in records]).encode())
        request = BatchRequest(batch_id="FE" + hashlib.sha256(refs.encode()).hexdigest()[:30],
                               debtor_account=debtors.pop(), currency=currency,
                               execution_date=self._today(), callback_url=None,
                               orders=orders)
        answer = self.ledger.submit(self.bank, request, body_hash=digest.hexdigest())
        return [Record("NTQPAYRQZ", {
            "YURREF": line.instruction_id, "REQNBR": answer.bank_reference,
            **_state(line.status, line.error, line.error_message)}) for line in answer.lines]

    def _status(self, package: Package) -> list[Record]:
        ids = [_field(r, "YURREF") for r in _records(package, "NTQRYSTYX1", 1, 50)]
        return [_status_record(iid, order)
                for iid, order in zip(ids, self.ledger.status(self.bank, ids), strict=True)]

    def _history(self, package: Package) -> list[Record]:
        [query] = _records(package, "SDKTSINFX", 1, 1)
        number, since, until = _field(query, "ACCNBR"), _day(query, "BGNDAT"), _day(query,
                                                                                   "ENDDAT")
        if since > until or (until - since).days > 366:
            raise BankRefusal("-1", "SDKTSINFX: BGNDAT..ENDDAT is not a range of 1-366 days")
        currency = self.ledger.account(self.bank, number).currency
        return [_entry(b, currency) for b in self.ledger.entries(self.bank, number, since,
                                                                 until)]

    def _day_balances(self, package: Package) -> list[Record]:
        [query] = _records(package, "NTQABINFY", 1, 1)
        number, since, until = _field(query, "ACCNBR"), _day(query, "BGNDAT"), _day(query,
                                                                                   "ENDDAT")
        if since > until or (until - since).days > 31:
            raise BankRefusal("-1", "NTQABINFY: BGNDAT..ENDDAT is not a range of 1-31 days")
        found = []
        for ordinal in range(since.toordinal(), until.toordinal() + 1):
            view = self.ledger.statement(self.bank, number, date.fromordinal(ordinal))
            found.append(Record("NTQABINFZ", {
                "ACCNBR": number, "BALDAT": view.on.strftime("%Y%m%d"),
                "BLVAMT": amount_text(view.closing_minor, view.account.currency)}))
        return found


def _info(function: str, retcod: str, message: str) -> dict[str, str]:
    return {"FUNNAM": function, "DATTYP": "2", "RETCOD": retcod, "ERRMSG": message}


def _records(package: Package, tag: str, low: int, high: int) -> list[Record]:
    found = package.of(tag)
    if not low <= len(found) <= high:
        raise BankRefusal("-1", f"{tag}: {len(found)} records, expected {low} to {high}")
    return found


def _field(record: Record, name: str) -> str:
    value = record.fields.get(name, "")
    if not value:
        raise BankRefusal("-1", f"{record.where}/{name}: missing")
    return value


def _day(record: Record, name: str) -> date:
    text = _field(record, name)
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise BankRefusal("-1", f"{record.where}/{name}: {text!r} is not YYYYMMDD") from None


def _order(record: Record, currency: str) -> OrderLine:
    from bankgate.sandbox.wire import parse_batch

    same = _field(record, "BNKFLG") == "Y"
    payee_bank = "cmb" if same else _BANK_IDS.get(record.fields.get("CRTBNK", ""), "other")
    line = {"instruction_id": _field(record, "YURREF"), "amount": _field(record, "TRSAMT"),
            "payee_name": _field(record, "CRTNAM"), "payee_account": _field(record, "CRTACC"),
            "payee_bank": payee_bank, "remittance": record.fields.get("NUSAGE", "")}
    try:  # the host API's strict order checks, reused: same rules, same messages
        checked = parse_batch({"batch_id": "B1", "debtor_account": "000000",
                               "currency": currency, "execution_date": "2026-01-01",
                               "orders": [line]})
    except Refusal as refusal:
        raise BankRefusal("-1", f"{record.where}: {refusal.message}") from None
    return checked.orders[0]


def _ccy_code(currency: str) -> str:
    return next(code for code, iso in _CURRENCIES.items() if iso == currency)


def _state(status: StatusMeaning, error: ErrorMeaning | None,
           message: str | None) -> dict[str, str]:
    reqsts, rtnflg = STATUSES[status]
    return {"REQSTS": reqsts, "RTNFLG": rtnflg, "ERRCOD": ERRORS[error] if error else OK,
            "ERRTXT": (message or "")[:200]}


def _status_record(iid: str, order: Order | None) -> Record:
    if order is None:
        return Record("NTQRYSTYZ1", {"YURREF": iid, **_state(StatusMeaning.NOT_FOUND, None,
                                                             None)})
    return Record("NTQRYSTYZ1", {"YURREF": iid, "REQNBR": order.bank_reference,
                                 **_state(order.status, order.error, order.error_message)})


def _entry(booking: Booking, currency: str) -> Record:
    amount = amount_text(abs(booking.amount_minor), currency)
    credit = booking.amount_minor > 0
    return Record("NTQTSINFZ", {
        "ETYDAT": booking.booking_date.strftime("%Y%m%d"),
        "ETYTIM": booking.booked_at.astimezone(SHANGHAI).strftime("%H%M%S"),
        "VLTDAT": booking.booking_date.strftime("%Y%m%d"),
        "TRSAMTD": "" if credit else amount, "TRSAMTC": amount if credit else "",
        "AMTCDR": "C" if credit else "D",
        "TRSBLV": amount_text(booking.balance_after_minor, currency),
        "REFNBR": booking.serial, "YURREF": booking.instruction_id or "",
        "RPYNAM": booking.counterparty_name, "RPYACC": booking.counterparty_account,
        "NUSAGE": booking.remittance})
