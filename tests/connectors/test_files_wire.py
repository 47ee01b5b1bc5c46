"""File channel configuration and wire rules, without a server: names, kinds, merging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bankgate.connectors.files import FilesConfig, UnsafeName, kind_of
from bankgate.connectors.files.wire import check_name, merge_reports
from bankgate.domain import InstructionId, Outcome, StatusReport
from bankgate.errors import ConfigError

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlx5vVbrpvK1dMzNFZ8Q3c9YlXr7u8v0cYQx1m7tKqR"


def _config(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"host": "127.0.0.1", "port": 2222, "username": "company-boc",
                            "client_key": "/keys/id_ed25519", "host_key": HOST_KEY}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def test_a_complete_configuration_is_read_with_its_defaults() -> None:
    config = FilesConfig.from_mapping("boc", _config())
    assert (config.outbound_dir, config.inbound_dir, config.pain001_version) == \
        ("out", "in", "03")
    assert config.client_key == Path("/keys/id_ed25519") and config.max_attempts == 3


@pytest.mark.parametrize(("changes", "message"), [
    ({"host_key": None}, r"banks\.boc\.host_key: required"),
    ({"host_key": "AAAA not a key"}, r"banks\.boc\.host_key: cannot read"),
    ({"known_hosts": "~/.ssh/known_hosts"}, r"banks\.boc: unknown key 'known_hosts'"),
    ({"password": "secret"}, r"banks\.boc: unknown key 'password'"),
    ({"inbound_dir": "../other"}, r"banks\.boc\.inbound_dir: '\.\./other' must be"),
    ({"outbound_dir": "/abs"}, r"banks\.boc\.outbound_dir"),
    ({"port": 0}, r"banks\.boc\.port: expected a whole number from 1 to 65535"),
    ({"timeout_s": -1}, r"banks\.boc\.timeout_s"),
    ({"pain001_version": "02"}, r"banks\.boc\.pain001_version"),
    ({"username": "a b"}, r"banks\.boc\.username"),
    ({"client_key": None}, r"banks\.boc\.client_key: expected non-empty text"),
])
def test_a_wrong_key_is_refused_naming_the_bank_and_the_key(changes: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FilesConfig.from_mapping("boc", _config(**changes))


def test_the_pinned_host_key_may_be_a_public_key_file(tmp_path: Path) -> None:
    path = tmp_path / "bank.pub"
    path.write_text(HOST_KEY + " bank@host\n", encoding="ascii")
    assert FilesConfig.from_mapping("boc", _config(host_key=str(path))).host_key.startswith(
        HOST_KEY)


@pytest.mark.parametrize("name", ["../x", "..", "a/b", "a\\b", "x\x00y", "x\ny", "",
                                  ".hidden", "a..b", "名字.xml", "x" * 201])
def test_a_remote_name_that_is_not_a_plain_file_name_is_refused(name: str) -> None:
    with pytest.raises(UnsafeName):
        check_name(name, where="boc:in")


@pytest.mark.parametrize(("name", "kind"), [
    ("PAIN002_000001_B01.xml", "pain.002"), ("CAMT053_20261201_0001_000002.xml", "camt.053"),
    ("camt.052.intraday.xml", "camt.052"), ("CAMT054_000004.xml", "camt.054"),
    ("statement-20261201.sta", "mt940"), ("MT940_20261201.txt", "mt940"),
    ("readme.txt", None)])
def test_the_kind_of_a_bank_file_is_read_from_its_name(name: str, kind: str | None) -> None:
    assert check_name(name, where="boc:in") == name
    assert kind_of(name) == kind


def _report(outcome: Outcome) -> StatusReport:
    return StatusReport(instruction_id=InstructionId("E2E-1"), outcome=outcome,
                        bank_code=outcome.value)


def test_reports_from_several_files_keep_the_one_furthest_along() -> None:
    held: dict[str, StatusReport] = {}
    merge_reports(held, [_report(Outcome.SETTLED)])
    merge_reports(held, [_report(Outcome.ACCEPTED)])  # an older file read later
    assert held["E2E-1"].outcome is Outcome.SETTLED
    merge_reports(held, [_report(Outcome.RETURNED)])
    assert held["E2E-1"].outcome is Outcome.RETURNED


PAIN002_NAMING_AN_ACCOUNT = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
 <CstmrPmtStsRpt>
  <GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2026-12-01T08:00:00</CreDtTm></GrpHdr>
  <OrgnlGrpInfAndSts><OrgnlMsgId>MSG-1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>
  </OrgnlGrpInfAndSts>
  <OrgnlPmtInfAndSts><OrgnlPmtInfId>PMT-1</OrgnlPmtInfId>
   <TxInfAndSts><OrgnlInstrId>INSTR-1</OrgnlInstrId><OrgnlEndToEndId>INSTR-1</OrgnlEndToEndId>
    <TxSts>RJCT</TxSts>
    <StsRsnInf><Rsn><Cd>AC04</Cd></Rsn>
     <AddtlInf>payee account 6217850000008800067 is closed</AddtlInf></StsRsnInf>
   </TxInfAndSts>
  </OrgnlPmtInfAndSts>
 </CstmrPmtStsRpt>
</Document>"""


def test_a_reason_naming_an_account_in_full_is_masked_and_the_raw_file_kept() -> None:
    """INV-7: the reason is stored on the order, the claim and the employee's e-mail."""
    from bankgate.connectors.files.wire import status_reports

    [report] = status_reports(PAIN002_NAMING_AN_ACCOUNT, "in/sts.xml")
    assert report.outcome is Outcome.REJECTED and report.reason
    assert "6217850000008800067" not in report.reason and "6217****0067" in report.reason
    assert b"6217850000008800067" in report.raw
