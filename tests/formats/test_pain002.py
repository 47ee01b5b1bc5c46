"""pain.002 status reports: three levels, reason codes, mapping onto the lifecycle."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bankgate.domain import OUTCOME_STATUS, Outcome, Status
from bankgate.errors import FormatError
from bankgate.formats.iso20022.pain002 import detect_pain002, read_pain002, to_status_reports

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "pain002"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/samples is not here")


def read(name: str):
    with (SAMPLES / name).open("rb") as stream:
        return read_pain002(stream, name)


def test_a_rejected_transaction_carries_its_reason_and_becomes_rejected():
    lines = read("postfinance__pain002-epo_1109800799_0_2018032612092784.xml")
    assert [(line.level, line.status) for line in lines] == [
        ("message", ""), ("payment_information", "RJCT"), ("transaction", "RJCT")]
    [report] = to_status_reports(lines)
    assert (report.outcome, report.reason_code) == (Outcome.REJECTED, "AC01")
    assert OUTCOME_STATUS[report.outcome] is Status.REJECTED


def test_message_level_statuses_without_transactions():
    [line] = read("fi__pain.002.001.03_01-accepted-technical-check.xml")
    assert (line.level, line.status, line.outcome) == ("message", "ACTC", Outcome.RECEIVED)
    [rejected] = read("fi__pain.002.001.03_02-rejected-technical-check.xml")
    assert rejected.outcome is Outcome.REJECTED and rejected.reason_codes == ("NARR",)
    assert rejected.additional_info


def test_version_10_and_a_file_without_namespace_read_alike():
    with_ns = read("hbci4java__pain.002.001.10-02.xml")
    without = read("hbci4java__pain.002.001.10-01.xml")
    assert [line.status for line in with_ns] == [line.status for line in without]
    assert without[-1].outcome is Outcome.UNRECOGNIZED  # a VoP code, never guessed


def test_a_rejected_payment_block_rejects_transactions_that_give_no_status():
    xml = (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.002.001.03'><CstmrPmtStsRpt>"
           b"<GrpHdr><MsgId>m</MsgId></GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>B1</OrgnlMsgId>"
           b"</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>"
           b"<PmtInfSts>RJCT</PmtInfSts><TxInfAndSts><OrgnlEndToEndId>E2E-1</OrgnlEndToEndId>"
           b"</TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>")
    [report] = to_status_reports(read_pain002(io.BytesIO(xml), "r.xml"))
    assert (report.instruction_id, report.outcome) == ("E2E-1", Outcome.REJECTED)


def test_other_messages_are_refused_and_detection_tells_them_apart():
    with pytest.raises(FormatError, match=r"not a pain\.002"):
        read("oca__test-sepa-pain-unpaid-invalid.xml")
    head = (SAMPLES / "cbpr__pacs002_status_report_sample.xml").read_bytes()[:4000]
    assert detect_pain002(head) is None
    assert detect_pain002((SAMPLES / "postfinance__pain002p-rejected.xml").read_bytes()) \
        == "pain.002.001.03"
