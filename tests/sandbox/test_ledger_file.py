"""K-18 (the bank's half): a ledger on a file carries on, after its process ends, from the
last change it made: balances, bookings, held orders and batch answers, and what is due."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bankgate.sandbox.dialects import StatusMeaning
from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.ledger_file import LedgerFile
from bankgate.sandbox.records import BatchRequest, OrderLine
from tests.sandbox.conftest import ACCOUNTS, PAYEE, small_world


def _batch(batch_id: str, instruction_id: str) -> BatchRequest:
    line = OrderLine(instruction_id=instruction_id, amount_minor=1250, payee_name=PAYEE["icbc"],
                     payee_account=ACCOUNTS["icbc"][1], payee_bank="icbc", remittance="K-18")
    return BatchRequest(batch_id=batch_id, debtor_account=ACCOUNTS["icbc"][0], currency="CNY",
                        execution_date=date(2026, 12, 1), callback_url=None, orders=(line,))


def _reopened(path: Path) -> tuple[Ledger, LedgerFile]:
    file = LedgerFile(path)
    return Ledger(small_world(), settle_delay_s=0.0, file=file), file


def test_K18_a_ledger_reopened_on_its_file_holds_what_it_booked_and_books_nothing_twice(
        tmp_path):
    path = tmp_path / "ledger.sqlite"
    first, file = _reopened(path)
    answer = first.submit("icbc", _batch("B-1", "I-1"), body_hash="h1")
    opening = first.opening_total_minor()
    file.close()  # the process is gone; only the file is left

    again, file = _reopened(path)
    assert again.debit_bookings() == {"I-1": 1}
    assert again.balance_minor("icbc", ACCOUNTS["icbc"][0]) == 100_000_000 - 1250
    assert again.submit("icbc", _batch("B-1", "I-1"), body_hash="h1") == answer  # stored answer
    resent = again.submit("icbc", _batch("B-2", "I-1"), body_hash="h2").lines[0]
    assert resent.status is StatusMeaning.ACCEPTED and again.debit_bookings() == {"I-1": 1}
    assert [c.order.status for c in again.settle_due()] == [StatusMeaning.SETTLED]  # still due
    file.close()

    last, file = _reopened(path)
    held = last.status("icbc", ["I-1"])[0]
    assert held is not None and held.status is StatusMeaning.SETTLED
    assert last.total_minor() == last.opening_total_minor() == opening  # INV-3
    file.close()

