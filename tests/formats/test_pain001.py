"""pain.001 writer: valid against the official XSDs, control sums exact, text per profile."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from bankgate.domain import (
    AccountId,
    AccountNumber,
    Batch,
    BatchKey,
    BatchState,
    CompanyAccount,
    FlowType,
    InvalidField,
    InvalidIdentifier,
    Money,
    Payee,
    PaymentOrder,
    bank_id,
    currency,
    instruction_id,
    new_batch_id,
    new_order_id,
    new_payment_order,
    parse_amount,
)
from bankgate.errors import FormatError
from bankgate.formats.iso20022.pain001 import VERSIONS, validate_pain001, write_pain001

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 24)
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
DK_XSD = SAMPLES / "xsd" / "dk" / "pain.001.001.03_DK-restricted.xsd"
CNY_DEBTOR = ("CNY", "6222020200001000001", "示例科技有限公司")
EUR_DEBTOR = ("EUR", "DE89370400440532013000", "Muster GmbH")


def a_debtor(cur: str, number: str, name: str) -> CompanyAccount:
    return CompanyAccount(id=AccountId("acc"), bank=bank_id("icbc"),
                          number=AccountNumber.parse(number), currency=currency(cur), name=name)


def a_batch(debtor: CompanyAccount, payments: list[tuple[str, str, str]], *,
            remittance: str = "INV-2026-001") -> tuple[Batch, list[PaymentOrder]]:
    """(payee name, payee account, amount) per order, each with its own instruction id."""
    orders = [
        new_payment_order(
            id=new_order_id(), instruction_id=instruction_id(f"E2E-{n}"), flow=FlowType.SUPPLIER,
            debtor=debtor, payee=Payee(name=name, account=AccountNumber.parse(account),
                                       bank=bank_id("cmb")),
            amount=parse_amount(amount, debtor.currency), execution_date=DAY,
            remittance=remittance, at=NOW)
        for n, (name, account, amount) in enumerate(payments)]
    total = sum((o.amount for o in orders), Money.zero(debtor.currency))
    batch = Batch(id=new_batch_id(), key=BatchKey(debtor.id, debtor.bank, debtor.currency, DAY),
                  order_ids=tuple(o.id for o in orders),
                  instruction_ids=tuple(o.instruction_id for o in orders), total=total,
                  state=BatchState.READY, version=1, created_at=NOW)
    return batch, orders


def texts(data: bytes, name: str) -> list[str]:
    root = etree.fromstring(data)
    return [el.text or "" for el in root.iter(f"{{*}}{name}")]


CNY_PAYEES = [("上海某某贸易有限公司", "6222020200009000001", "12800.00"),
              ("张三", "6214830200009000002", "8650.01")]
EUR_PAYEES = [("Zoë Łukasiewicz & Søn", "FR1420041010050500013M02606", "0.01"),
              ("Müller Straße GmbH", "NL91ABNA0417164300", "1234567.89")]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("debtor", "payees"), [(CNY_DEBTOR, CNY_PAYEES),
                                                 (EUR_DEBTOR, EUR_PAYEES)], ids=["cny", "eur"])
def test_a_written_file_validates_and_carries_exact_control_sums(version, debtor, payees):
    batch, orders = a_batch(a_debtor(*debtor), payees)
    data = write_pain001(batch, a_debtor(*debtor), orders, version=version, created_at=NOW)
    validate_pain001(data, version)
    assert texts(data, "NbOfTxs") == ["2", "2"]
    expected = str(sum((Decimal(p[2]) for p in payees), Decimal(0)))
    assert texts(data, "CtrlSum") == [expected, expected]
    assert texts(data, "EndToEndId") == ["E2E-0", "E2E-1"]
    assert f"pain.001.001.{version}".encode() in data


def test_domestic_cny_keeps_chinese_names_and_uses_other_account_ids():
    batch, orders = a_batch(a_debtor(*CNY_DEBTOR), CNY_PAYEES, remittance="货款 INV-1")
    data = write_pain001(batch, a_debtor(*CNY_DEBTOR), orders, version="03", created_at=NOW)
    assert texts(data, "Nm")[-2:] == ["上海某某贸易有限公司", "张三"]
    assert "6222020200009000001" in texts(data, "Id")
    assert texts(data, "Ustrd") == ["货款 INV-1", "货款 INV-1"]
    assert b"<IBAN>" not in data and b"<SvcLvl>" not in data


def test_eur_sepa_text_is_transliterated_to_the_epc_set_and_valid_for_german_banks():
    batch, orders = a_batch(a_debtor(*EUR_DEBTOR), EUR_PAYEES, remittance="Rechnung №5 für 发票")
    data = write_pain001(batch, a_debtor(*EUR_DEBTOR), orders, version="03", created_at=NOW)
    assert texts(data, "Nm")[-2:] == ["Zoe Lukasiewicz + Son", "Muller Strasse GmbH"]
    assert texts(data, "Ustrd")[0] == "Rechnung No5 fur .."
    assert texts(data, "Cd") == ["SEPA"] and texts(data, "ChrgBr") == ["SLEV"]
    if DK_XSD.is_file():  # the EPC-restricted schema of the German banks (DFÜ Anlage 3)
        etree.XMLSchema(etree.parse(str(DK_XSD))).assertValid(etree.fromstring(data))


def test_the_versions_differ_in_the_agent_bic_tag_and_the_date_wrapper():
    debtor = a_debtor(*EUR_DEBTOR)
    batch, orders = a_batch(debtor, EUR_PAYEES[:1])
    bics = {"icbc": "DEUTDEFF", "cmb": "CMBCCNBS"}
    old = write_pain001(batch, debtor, orders, version="03", created_at=NOW, bics=bics)
    new = write_pain001(batch, debtor, orders, version="09", created_at=NOW, bics=bics)
    assert texts(old, "BIC") == ["DEUTDEFF", "CMBCCNBS"]
    assert texts(old, "ReqdExctnDt") == [DAY.isoformat()]
    assert texts(new, "BICFI") == ["DEUTDEFF", "CMBCCNBS"]
    assert texts(new, "Dt") == [DAY.isoformat()]


def test_names_are_cut_to_the_profile_length():
    long_name = "很" * 200
    batch, orders = a_batch(a_debtor(*CNY_DEBTOR), [(long_name, "6222020200009000001", "1.00")])
    data = write_pain001(batch, a_debtor(*CNY_DEBTOR), orders, version="09", created_at=NOW)
    assert texts(data, "Nm")[-1] == "很" * 140
    batch, orders = a_batch(a_debtor(*EUR_DEBTOR), [("A" * 200, "NL91ABNA0417164300", "1.00")])
    data = write_pain001(batch, a_debtor(*EUR_DEBTOR), orders, version="09", created_at=NOW)
    assert texts(data, "Nm")[-1] == "A" * 70


def test_orders_that_do_not_make_up_the_batch_are_refused():
    debtor = a_debtor(*CNY_DEBTOR)
    batch, orders = a_batch(debtor, CNY_PAYEES)
    with pytest.raises(InvalidField, match="instruction ids"):
        write_pain001(batch, debtor, orders[:1], version="03")
    with pytest.raises(InvalidField, match="not one of 03, 09"):
        write_pain001(batch, debtor, orders, version="10")
    with pytest.raises(InvalidIdentifier, match="message_id"):
        write_pain001(batch, debtor, orders, version="03", message_id="x" * 36)


def test_an_invalid_file_is_reported_with_line_and_xpath():
    debtor = a_debtor(*CNY_DEBTOR)
    batch, orders = a_batch(debtor, CNY_PAYEES)
    data = write_pain001(batch, debtor, orders, version="09", created_at=NOW)
    broken = data.replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XXX</PmtMtd>")
    with pytest.raises(FormatError) as caught:
        validate_pain001(broken, "09")
    assert caught.value.origin == "pain.001.001.09"
    assert caught.value.where == "line 15, /Document/CstmrCdtTrfInitn/PmtInf/PmtMtd"
    with pytest.raises(FormatError, match="not well-formed"):
        validate_pain001(data[:200], "09")


def test_a_doctype_cannot_make_the_validator_fetch_or_expand_anything():
    hostile = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>'
               b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">&x;</Document>')
    with pytest.raises(FormatError):
        validate_pain001(hostile, "03")


_names = st.text(st.characters(codec="utf-8", categories=("Lu", "Ll", "Lo", "Nd", "Zs")),
                 min_size=1, max_size=160).filter(lambda s: s.strip())
_cny_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999.99"),
                           places=2).map(str)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from(VERSIONS), sepa=st.booleans(),
       payments=st.lists(st.tuples(_names, _cny_amounts), min_size=1, max_size=8))
def test_any_batch_is_written_valid_and_reads_back_with_its_ids_and_amounts(
        version, sepa, payments):
    debtor = a_debtor(*(EUR_DEBTOR if sepa else CNY_DEBTOR))
    account = "NL91ABNA0417164300" if sepa else "6222020200009000001"
    batch, orders = a_batch(debtor, [(name, account, amount) for name, amount in payments])
    data = write_pain001(batch, debtor, orders, version=version, created_at=NOW)
    root = etree.fromstring(data)
    read = [(tx.findtext("{*}PmtId/{*}EndToEndId"), Decimal(tx.findtext("{*}Amt/{*}InstdAmt")))
            for tx in root.iter("{*}CdtTrfTxInf")]
    assert read == [(o.instruction_id, o.amount.amount) for o in orders]
    assert Decimal(texts(data, "CtrlSum")[0]) == sum(Decimal(a) for _, a in payments)
