"""camt.052/053/054 against every sample in shared/samples: real values, clear refusals."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from bankgate.domain import EntryStatus, check_statement
from bankgate.errors import FormatError
from bankgate.formats.iso20022.camt import read_camt
from tests.samples import SAMPLES, needs_samples

CAMT = sorted(p for folder in ("camt052", "camt053", "camt054")
              for p in (SAMPLES / folder).glob("*.xml"))
BROKEN = {  # deliberately broken files, and what must be said about them
    "genkgo__camt053.v2.wrong.xml": "no statement",
    "six__invalid_NotificationMissing.xml": "no statement",
    "hbci4java__camt-05200108-invalid-saldo.xml": "Bal[1]/Amt",
}


def read(name: str):
    path = next(p for p in CAMT if p.name == name)
    with path.open("rb") as stream:
        return list(read_camt(stream, path.name))


@pytest.mark.skipif(not CAMT, reason="shared/samples is not beside this checkout")
@pytest.mark.parametrize("path", CAMT, ids=lambda p: p.name)
def test_every_camt_sample_reads_or_is_refused_naming_the_place(path: Path):
    with path.open("rb") as stream:
        if path.name in BROKEN:
            with pytest.raises(FormatError) as err:
                list(read_camt(stream, path.name))
            assert path.name in str(err.value) and BROKEN[path.name] in str(err.value)
            return
        statements = list(read_camt(stream, path.name))
    assert statements
    for stmt in statements:
        assert stmt.id and stmt.account
        for entry in stmt.entries:
            assert entry.amount.currency.code and entry.key.value
        check_statement(stmt)  # reports, never raises


@needs_samples
def test_postfinance_statement_values():
    [stmt] = read("postfinance__camt.053_P_CH2909000000250094239_1110092698_0_"
                  "2020112503071366.xml")
    assert (stmt.iban, stmt.currency.code) == ("CH2909000000250094239", "CHF")
    assert stmt.opening.amount.amount == Decimal("211993.19")
    assert stmt.closing.amount.amount == Decimal("215112.21")
    assert [str(e.amount.amount) for e in stmt.entries][:3] == ["4.50", "-77.70", "1500.00"]


@needs_samples
def test_a_batch_booking_keeps_its_transaction_details():
    [stmt] = read("fi-danske__camt.054.001.02.xml")
    batch = stmt.entries[0]
    assert batch.amount.amount == Decimal("183.00")
    assert [d.amount.amount for d in batch.transactions] == [Decimal("147.00"),
                                                             Decimal("36.00")]
    assert batch.transactions[0].structured_reference == "123"
    assert batch.bank_transaction_code == "PMNT/RCDT/NTAV"


@needs_samples
def test_two_statements_in_one_file_and_old_and_new_status_forms():
    assert len(read("genkgo__camt053.v2.multi.statement.xml")) == 2
    [pending] = read("genkgo__camt052.v4.xml")  # <Sts>PDNG</Sts> (.04)
    assert pending.entries[0].status is EntryStatus.PENDING
    [booked] = read("postfinance__camt.054.001.08_v2019_1111111112.xml")  # <Sts><Cd> (.08)
    assert booked.entries[0].status is EntryStatus.BOOKED


@needs_samples
def test_an_empty_day_is_an_empty_statement_not_an_error():
    [stmt] = read("oca__test-camt053-no-ntry.xml")
    assert stmt.entries == () and stmt.opening.amount == stmt.closing.amount


@needs_samples
def test_balances_that_do_not_add_up_are_reported_with_the_figures():
    [stmt] = read("oca__test-camt053.xml")
    [issue] = check_statement(stmt)
    assert "opening 15568.27 EUR" in issue.message and "closing balance" in issue.message


@needs_samples
def test_a_batch_without_details_and_the_bank_reference_as_identity():
    [stmt] = read("six__Business_Sample_camt.053.001.04.xml")
    assert [e.key.kind for e in stmt.entries] == ["bank_reference"] * 3
    assert stmt.entries[1].transactions == () and stmt.entries[1].amount.amount == -200000


ENTRY = ("<Ntry><Amt Ccy='EUR'>10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
         "<BookgDt><Dt>2024-02-01</Dt></BookgDt></Ntry>")


def camt(entries: str, ns: str = "camt.053.001.02") -> bytes:
    return (f"<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:{ns}'>"
            "<BkToCstmrStmt><GrpHdr><MsgId>1</MsgId></GrpHdr><Stmt><Id>S1</Id>"
            "<CreDtTm>2024-02-01T10:00:00</CreDtTm><Acct><Id><IBAN>DE89370400440532013000"
            f"</IBAN></Id><Ccy>EUR</Ccy></Acct>{entries}</Stmt></BkToCstmrStmt></Document>"
            ).encode()


def test_two_identical_payments_without_references_stay_two_and_keep_their_keys():
    """Entry identity: never collapse genuine twins (a known failure of the peers)."""
    [first] = read_camt(io.BytesIO(camt(ENTRY * 2)), "twins.xml")
    [again] = read_camt(io.BytesIO(camt(ENTRY * 2)), "twins.xml")
    assert len({e.key for e in first.entries}) == 2
    assert [e.key for e in first.entries] == [e.key for e in again.entries]


@pytest.mark.parametrize(("content", "says"), [
    (b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 "
     b"'&lol;&lol;&lol;'>]><Document>&lol2;</Document>", "DOCTYPE or ENTITY"),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
     b"<Document>&xxe;</Document>", "DOCTYPE or ENTITY"),
    (b"<!DOCTYPE Document SYSTEM 'http://127.0.0.1:9/evil.dtd'><Document/>", "DOCTYPE"),
    (camt(ENTRY)[:300], "not well-formed"),
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "not well-formed"),
    (camt(ENTRY.replace("10.00", "10.001")), "Ntry[1]/Amt: 10.001 is not an amount in EUR"),
    (camt(ENTRY.replace("10.00", "ten")), "'ten' is not a decimal"),
    (camt(ENTRY.replace("EUR", "XYZ")), "Ntry[1]/Amt/@Ccy"),
    (camt(ENTRY).replace(b"<Id>S1</Id>", b""), "statement id"),
])
def test_hostile_and_broken_xml_gets_one_clear_error(content, says):
    with pytest.raises(FormatError) as err:
        list(read_camt(io.BytesIO(content), "upload.xml"))
    assert says in str(err.value) and str(err.value).startswith("upload.xml")


def test_a_file_over_the_size_limit_is_cut_off_with_an_error():
    from bankgate.formats.xml import iter_elements

    with pytest.raises(FormatError, match="larger than 1000 bytes"):
        list(iter_elements(io.BytesIO(camt(ENTRY * 50)), "big.xml", frozenset({"Ntry"}),
                           limit=1000))


@needs_samples
def test_a_statement_keeps_when_the_bank_created_it_from_stmt_or_group_header():
    [stmt] = read("oca__test-camt053-no-ntry.xml")
    assert stmt.created_at is not None and stmt.created_at.isoformat() == \
        "2014-01-06T16:20:26.673000+00:00"
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
    header_only = (f'<Document xmlns="{ns}"><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId>'
                   "<CreDtTm>2026-12-01T09:30:00+08:00</CreDtTm></GrpHdr><Stmt><Id>S</Id>"
                   "<Acct><Id><Othr><Id>100112345678</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"
                   "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>"
                   '<Amt Ccy="CNY">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                   "<Dt><Dt>2026-12-01</Dt></Dt></Bal></Stmt></BkToCstmrStmt></Document>")
    [stmt] = read_camt(io.BytesIO(header_only.encode()), "t.xml")
    assert stmt.created_at is not None and stmt.created_at.isoformat() == \
        "2026-12-01T09:30:00+08:00"


@pytest.mark.parametrize("digits", [18, 30])
def test_an_amount_too_large_for_any_payment_is_refused_naming_its_place(digits):
    data = ("<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>"
            "<Stmt><Id>S</Id><CreDtTm>2026-11-23T08:00:00</CreDtTm><Acct><Id><IBAN>"
            "DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct><Ntry><Amt Ccy='EUR'>"
            f"{'1' * digits}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry></Stmt></BkToCstmrStmt>"
            "</Document>").encode()
    with pytest.raises(FormatError, match="larger than any") as refused:
        list(read_camt(io.BytesIO(data), "big.xml"))
    assert refused.value.where == "/Stmt[1]/Ntry[1]/Amt"
