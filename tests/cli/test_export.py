"""`bankgate export pain001`: PAYMENTS.json → a valid pain.001; bad files named by pointer."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from bankgate.cli.export import InvalidPaymentsFile, export_pain001
from bankgate.formats.iso20022.pain001 import validate_pain001

CNY_FILE: dict[str, Any] = {
    "debtor": {"account": "6222020200001000001", "name": "示例科技有限公司", "currency": "CNY",
               "bank": "icbc"},
    "execution_date": "2026-11-24",
    "payments": [
        {"payee": {"name": "上海某某贸易有限公司", "account": "6222020200009000001", "bank": "cmb"},
         "amount": "12800.00", "currency": "CNY", "remittance": "INV-2026-1107",
         "end_to_end_id": "ERP-1107-1"},
        {"payee": {"name": "张三", "account": "6214830200009000002"},
         "amount": "8650.01", "currency": "CNY"},
    ],
}
EUR_FILE: dict[str, Any] = {
    "debtor": {"account": "DE89 3704 0044 0532 0130 00", "name": "Muster GmbH",
               "currency": "EUR", "bic": "COBADEFFXXX"},
    "execution_date": "2026-11-24",
    "message_id": "MSG-2026-11-24-1",
    "payments": [
        {"payee": {"name": "Zoë Dupont", "account": "FR1420041010050500013M02606",
                   "bic": "BNPAFRPP"},
         "amount": "0.10", "currency": "EUR", "remittance": "Facture 42"},
    ],
}


def export(tmp_path: Path, document: object, version: str = "03") -> bytes:
    source = tmp_path / "PAYMENTS.json"
    source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    target = tmp_path / "out.xml"
    export_pain001(source, version, target)
    return target.read_bytes()


@pytest.mark.parametrize("version", ["03", "09"])
@pytest.mark.parametrize("document", [CNY_FILE, EUR_FILE], ids=["cny", "eur"])
def test_a_payments_file_becomes_a_valid_pain001(tmp_path, document, version):
    data = export(tmp_path, document, version)
    validate_pain001(data, version)
    root = etree.fromstring(data)
    amounts = [Decimal(p["amount"]) for p in document["payments"]]
    assert root.findtext("{*}CstmrCdtTrfInitn/{*}GrpHdr/{*}NbOfTxs") == str(len(amounts))
    assert Decimal(root.findtext("{*}CstmrCdtTrfInitn/{*}GrpHdr/{*}CtrlSum")) == sum(amounts)


def test_given_end_to_end_ids_and_bics_are_kept(tmp_path):
    cny = etree.fromstring(export(tmp_path, CNY_FILE))
    assert next(e.text for e in cny.iter("{*}EndToEndId")) == "ERP-1107-1"
    eur = etree.fromstring(export(tmp_path, EUR_FILE, "09"))
    assert [e.text for e in eur.iter("{*}BICFI")] == ["COBADEFFXXX", "BNPAFRPP"]
    assert eur.findtext("{*}CstmrCdtTrfInitn/{*}GrpHdr/{*}MsgId") == "MSG-2026-11-24-1"


def test_without_output_the_file_goes_to_stdout(tmp_path, capsysbinary):
    source = tmp_path / "PAYMENTS.json"
    source.write_text(json.dumps(CNY_FILE), encoding="utf-8")
    export_pain001(source, "09", None)
    validate_pain001(capsysbinary.readouterr().out, "09")


def broken(path: str, value: object) -> dict[str, Any]:
    """CNY_FILE with the value at JSON pointer `path` replaced (or removed when ...)."""
    document = copy.deepcopy(CNY_FILE)
    *parents, last = path.strip("/").split("/")
    node: Any = document
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return document


@pytest.mark.parametrize(("path", "value", "message"), [
    ("/payments/0/amount", 12800.5, r"/payments/0/amount: must be a decimal string"),
    ("/payments/1/amount", "8650.001", r"/payments/1/amount: .*more decimals than CNY"),
    ("/payments/0/currency", "XYZ", r"/payments/0/currency: 'XYZ' is not a supported"),
    ("/payments/1/currency", "EUR", r"/payments/1: amount: EUR differs"),
    ("/payments/0/payee/name", ..., r"/payments/0/payee/name: is required"),
    ("/debtor/account", "DE89370400440532013001", r"/debtor/account: .*not a valid IBAN"),
    ("/execution_date", "24.11.2026", r"/execution_date: '24.11.2026' is not a date"),
    ("/payments/0/payee/iban", "x", r"/payments/0/payee/iban: unknown field"),
    ("/payments/1/end_to_end_id", "ERP-1107-1", r"/payments/1/end_to_end_id: .*already used"),
    ("/payments/0/payee/bic", "cmb", r"/payments/0/payee/bic: 'cmb' is not a BIC"),
    ("/payments", [], r"/payments: must be a non-empty list"),
])
def test_a_bad_payments_file_is_refused_naming_the_json_pointer(tmp_path, path, value, message):
    with pytest.raises(InvalidPaymentsFile, match=r"PAYMENTS\.json: " + message):
        export(tmp_path, broken(path, value))
    assert not (tmp_path / "out.xml").exists()


def test_a_file_that_is_not_json_is_refused(tmp_path):
    source = tmp_path / "PAYMENTS.json"
    source.write_bytes(b"{not json")
    with pytest.raises(InvalidPaymentsFile, match=r"PAYMENTS\.json: /: not UTF-8 JSON"):
        export_pain001(source, "03", None)
