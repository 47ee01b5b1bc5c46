"""Electronic receipts (电子回单): fetched once, linked to their payments, verified, zipped."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from bankgate.connectors.hostapi.receipts import _receipt
from bankgate.connectors.hostapi.wire import MalformedAnswer
from bankgate.errors import NotFound
from bankgate.sandbox.run import RunningSandbox
from bankgate.services.receipts import (
    day_archive,
    fetch_receipts,
    missing_receipts,
    receipt_document,
    receipts_for_claim,
    verify_stored,
)
from bankgate.services.worker import Worker
from tests.connectors.world import our_account
from tests.flows_world import gateway, running_sandbox
from tests.services.test_payroll import payroll_csv, rows_for, run_payroll


def bank_day():
    """The sandbox bank's day (Shanghai), read when used: a module constant went stale for
    tests run after 16:00 UTC in a session begun before."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture
def sandbox(tmp_path) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
def app(store_url, sandbox):
    with gateway(store_url, sandbox) as application:
        yield application


def paid_payroll(app):
    done = run_payroll(app, payroll_csv(rows_for("E001", "E002", "E006")))
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    try:
        assert worker.run_until_idle(timeout_s=20)
    finally:
        worker.close()
    with app.uow() as unit:
        return unit.orders.get_many([line.order_id for line in done.lines])


def fetch(app):
    return fetch_receipts(uow=app.uow, channels=app.channels, on=bank_day(), now=app.now)


def test_each_settled_payment_gets_its_verified_receipt_and_a_second_fetch_adds_none(app):
    orders = paid_payroll(app)
    first = fetch(app)
    assert first.problems == [] and first.new == first.fetched == first.verified
    assert first.linked == 3  # every debit proves its order; the others are not ours to prove
    again = fetch(app)
    assert again.fetched == first.fetched and again.new == 0
    with app.uow() as unit:
        for order in orders:
            [row] = unit.flows.receipts.for_order(order.id)
            assert row["amount_minor"] == -order.amount.to_minor() and row["verified"]


def test_a_receipt_is_a_real_pdf_saying_what_it_proves(app):
    [order, *_] = paid_payroll(app)
    fetch(app)
    with app.uow() as unit:
        [row] = unit.flows.receipts.for_order(order.id)
    name, pdf = receipt_document(uow=app.uow, receipt_id=row["id"])
    page = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert name == f"{row['bank']}-{row['receipt_no']}.pdf"
    assert row["receipt_no"] in page and order.instruction_id in page
    assert f"-{order.amount.amount:f} CNY" in page and row["verification_code"] in page
    assert order.payee.account.reveal() not in page  # accounts are masked (INV-7)


def test_a_days_receipts_come_as_one_zip_with_a_manifest_of_hashes(app):
    paid_payroll(app)
    fetch(app)
    archive = zipfile.ZipFile(io.BytesIO(day_archive(uow=app.uow, day=bank_day())))
    manifest = archive.read("manifest.csv").decode("utf-8-sig").splitlines()
    files = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert len(manifest) == len(files) + 1 and files
    for line in manifest[1:]:
        name, *_, digest, _verified = line.split(",")
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    only_cmb = zipfile.ZipFile(io.BytesIO(day_archive(uow=app.uow, day=bank_day(),
                                                      account_id="cmb-cny")))
    assert all(n.startswith("cmb-cny/") for n in only_cmb.namelist() if n.endswith(".pdf"))


def test_a_settled_payment_without_its_receipt_after_n_days_is_reported(app):
    orders = paid_payroll(app)
    later = lambda: datetime.now().astimezone() + timedelta(days=3)  # noqa: E731
    def missing(now, channels=app.channels):
        return missing_receipts(uow=app.uow, now=now, channels=channels)

    assert {m["id"] for m in missing(later)} == {o.id for o in orders}
    assert missing(app.now) == []  # not yet N days
    assert missing(later, channels={}) == []  # no bank whose channel issues receipts
    fetch(app)
    assert missing(later) == []


def test_a_stored_receipt_that_was_altered_is_no_longer_handed_out(app):
    [order, *_] = paid_payroll(app)
    fetch(app)
    with app.uow() as unit:
        [row] = unit.flows.receipts.for_order(order.id)
    assert verify_stored(uow=app.uow, receipt_id=row["id"])
    engine = app.engine
    with engine.begin() as conn:
        conn.execute(text("update raw_files set content = :c where sha256 = :h"),
                     {"c": b"%PDF-1.4 forged", "h": row["sha256"]})
    assert not verify_stored(uow=app.uow, receipt_id=row["id"])
    with pytest.raises(NotFound, match="altered"):
        receipt_document(uow=app.uow, receipt_id=row["id"])


def test_the_bank_confirms_a_receipts_code_and_refuses_another(app):
    [order, *_] = paid_payroll(app)
    fetch(app)
    with app.uow() as unit:
        [row] = unit.flows.receipts.for_order(order.id)
    channel = app.channels[row["bank"]]
    assert channel.verify_receipt(row["receipt_no"], row["verification_code"])
    assert not channel.verify_receipt(row["receipt_no"], "0000000000000000")
    assert not channel.verify_receipt("RNOSUCH1", row["verification_code"])


def _item(document: bytes, **changes):
    pdf = document
    item = {"receipt_no": "RX1", "serial": "X1", "amount": "-1.00", "currency": "CNY",
            "booked_at": "2026-11-23T02:00:00Z", "verification_code": "AB",
            "pdf": base64.b64encode(pdf).decode(), "pdf_sha256": hashlib.sha256(pdf).hexdigest()}
    return {**item, **changes}


@pytest.mark.parametrize(("changes", "message"), [
    ({"pdf_sha256": "0" * 64}, "its SHA-256 is not the one the bank stated"),
    ({"pdf": "not base64!"}, "not base64"),
    ({"amount": "-1.001"}, "amount"),
    ({"serial": ""}, "serial"),
])
def test_a_malformed_receipt_from_the_bank_is_refused(changes, message):
    with pytest.raises(MalformedAnswer, match=message):
        _receipt(_item(b"%PDF-1.4 x", **changes), "icbc", our_account("icbc"), 0)
    with pytest.raises(MalformedAnswer, match="not a PDF"):
        _receipt(_item(b"<html>"), "icbc", our_account("icbc"), 0)


def test_a_paid_claim_is_proved_by_the_receipt_of_its_payment(app):
    from tests.services.test_claims import approve_all, pay_now, register, submit

    register(app, "E002")
    claim = approve_all(app, submit(app, employee="E002"),
                        at=datetime.now().astimezone() - timedelta(hours=2))
    pay_now(app)
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    try:
        assert worker.run_until_idle(timeout_s=20)
    finally:
        worker.close()
    fetch(app)
    [receipt] = receipts_for_claim(uow=app.uow, claim_id=claim.id)
    assert receipt["amount_minor"] == -55300 and receipt["verified"]
