"""Bank CSV / xlsx statement profiles: every cn-csv sample a profile covers, and the edges."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from bankgate.domain import EntryKey, Statement, check_statement
from bankgate.errors import ConfigError, FormatError
from bankgate.formats.csvprofiles import (
    PROFILES_ENV,
    builtin_profiles,
    detect_profile,
    load_profile,
    load_profiles,
    read_csv_statement,
)

SAMPLES = Path("/work/shared/samples/cn-csv")
if not SAMPLES.exists():
    SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "cn-csv"

COVERED = {
    "abc_debit.csv": "abc_debit", "boc.csv": "boc_credit", "bocom_debit.csv": "bocom_debit",
    "cgb_credit.csv": "cgb_credit", "cmb.csv": "cmb_debit", "hsbchk-debit.csv": "hsbchk_debit",
    "icbc-credit.csv": "icbc_credit", "icbc-debit-v1.csv": "icbc_debit_v1",
}
CMB_HEADER = "记账日期,货币,交易金额,联机余额,交易摘要,对手信息,客户摘要\n"


def read_sample(name: str) -> Statement:
    raw = (SAMPLES / name).read_bytes()
    profile = detect_profile(raw[:65536])
    assert profile is not None
    return read_csv_statement(io.BytesIO(raw), profile, name)


def read_text(text: str, profile: str = "cmb_debit", encoding: str = "utf-8") -> Statement:
    return read_csv_statement(io.BytesIO(text.encode(encoding)), builtin_profiles()[profile],
                              "test.csv")


def amounts(stmt: Statement) -> list[Decimal]:
    return [e.amount.amount for e in stmt.entries]


@pytest.mark.parametrize(("name", "profile"), sorted(COVERED.items()))
def test_detection_picks_the_profile_of_each_covered_sample(name: str, profile: str) -> None:
    found = detect_profile((SAMPLES / name).read_bytes()[:4096])
    assert found is not None and found.name == profile


@pytest.mark.parametrize("name", ["alipay.csv", "wechat.csv", "citic.xls"])
def test_payment_platform_bills_and_xls_match_no_bank_profile(name: str) -> None:
    assert detect_profile((SAMPLES / name).read_bytes()[:4096]) is None


def test_abc_signed_amounts_serials_and_placeholder_serials_fall_back_to_composite() -> None:
    stmt = read_sample("abc_debit.csv")
    assert amounts(stmt) == [Decimal("10000.00"), Decimal("-10.00"), Decimal("-12345.89"),
                             Decimal("0.01"), Decimal("0.00")]
    first = stmt.entries[0]
    assert first.key == EntryKey("bank_reference", "369396693")
    assert first.booking_date == date(2024, 1, 1)
    assert first.remittance == "转存 / 转账"
    # ABC writes 0000000000 on both interest lines: a repeated serial identifies nothing.
    assert [e.key.kind for e in stmt.entries[3:]] == ["composite", "composite"]
    assert stmt.entries[3].key != stmt.entries[4].key
    assert stmt.entries[4].counterparty_name is None  # "--"
    assert stmt.opening is not None and stmt.opening.amount.amount == Decimal("1000.00")
    assert stmt.closing is not None and stmt.closing.amount.amount == Decimal("123.35")
    # The anonymised balances do not add up: reported, never silently accepted.
    assert "closing balance is 123.35 CNY" in check_statement(stmt)[0].message


def test_cmb_thousands_separators_in_quotes_and_signed_amounts() -> None:
    stmt = read_sample("cmb.csv")
    assert amounts(stmt) == [Decimal("1234.00"), Decimal("-1000.00"), Decimal("-3.00"),
                             Decimal("-1000.00"), Decimal("-10.14")]
    assert stmt.entries[3].counterparty_name is None
    assert stmt.entries[2].booking_date == date(2024, 1, 27)
    assert stmt.on == date(2024, 1, 27)


def test_bocom_direction_column_gives_the_sign() -> None:
    stmt = read_sample("bocom_debit.csv")
    assert amounts(stmt) == [Decimal("1.23"), Decimal("-3.21"), Decimal("0.02"),
                             Decimal("10.00"), Decimal("-10.00"), Decimal("-100.79")]
    assert stmt.entries[1].counterparty_account == "6666666666666666"
    assert stmt.entries[3].remittance == "其他交易 / 银联入账(哈哈/其它)转账"
    assert stmt.closing is not None and stmt.closing.amount.amount == Decimal("1334.63")


def test_boc_credit_and_debit_columns_and_a_foreign_currency_row_reported() -> None:
    stmt = read_sample("boc.csv")
    assert len(stmt.entries) == 14
    assert stmt.entries[0].amount.amount == Decimal("-50.00")
    assert stmt.entries[0].booking_date == date(2024, 12, 14)
    assert stmt.entries[0].value_date == date(2024, 12, 13)
    assert stmt.entries[3].amount.amount == Decimal("361.19")
    assert stmt.entries[-1].amount.currency.code == "USD"
    assert any("is in USD" in issue.message for issue in check_statement(stmt))


def test_boc_three_identical_rows_two_of_them_equal_stay_distinct_entries() -> None:
    stmt = read_sample("boc.csv")
    twins = [e for e in stmt.entries if e.remittance == "网银在线CHN"
             and e.amount.amount == Decimal("70.48")]
    assert len(twins) == 2 and twins[0].key != twins[1].key
    assert read_sample("boc.csv").entries == stmt.entries  # stable on re-import


def test_cgb_card_statement_spending_is_a_debit() -> None:
    stmt = read_sample("cgb_credit.csv")
    assert amounts(stmt) == [Decimal("-15.90"), Decimal("97.20"), Decimal("-387.42"),
                             Decimal("1130.68")]
    assert stmt.entries[0].booking_date == date(2025, 1, 6)
    assert stmt.currency.code == "CNY"


def test_icbc_credit_padded_cells_summary_line_and_masked_card() -> None:
    stmt = read_sample("icbc-credit.csv")
    assert stmt.account == "1234****5678"
    assert len(stmt.entries) == 9  # the 合计金额 line is not an entry
    assert stmt.entries[5].amount.amount == Decimal("4621.01")
    assert stmt.entries[0].amount.amount == Decimal("-0.01")


def test_icbc_debit_v1_dash_cells_and_summary_line() -> None:
    stmt = read_sample("icbc-debit-v1.csv")
    assert stmt.account == "1234****9876"
    assert len(stmt.entries) == 11
    assert stmt.entries[0].amount.amount == Decimal("-13.40")
    assert stmt.entries[2].amount.amount == Decimal("1234.56")
    assert stmt.opening is None and stmt.closing is None


def test_hsbchk_day_first_dates_and_tab_after_quoted_amounts() -> None:
    stmt = read_sample("hsbchk-debit.csv")
    assert len(stmt.entries) == 10
    assert stmt.currency.code == "HKD"
    assert stmt.entries[0].booking_date == date(2025, 3, 24)
    assert stmt.entries[5].amount.amount == Decimal("12500.00")


def test_gbk_bytes_are_read_with_auto_and_declared_encodings(tmp_path: Path) -> None:
    text = CMB_HEADER + "2024-01-01,CNY,-3.00,81.22,一网通支付,国网电力,供电\n"
    assert read_text(text, encoding="gbk").entries[0].remittance == "一网通支付 / 供电"
    (tmp_path / "gbk.toml").write_text(
        (SRC_PROFILES / "cmb_debit.toml").read_text(encoding="utf-8")
        .replace('name = "cmb_debit"', 'name = "cmb_gbk"\nencoding = "gbk"'), encoding="utf-8")
    declared = load_profile(tmp_path / "gbk.toml")
    stmt = read_csv_statement(io.BytesIO(text.encode("gbk")), declared, "gbk.csv")
    assert stmt.entries[0].counterparty_name == "国网电力"
    with pytest.raises(FormatError, match="not gbk text"):
        read_csv_statement(io.BytesIO(b"\xff\xff" + text.encode("gbk")), declared, "x.csv")


def test_a_broken_amount_names_the_file_the_line_and_the_column() -> None:
    text = CMB_HEADER + "2024-01-01,CNY,-3.00,81.22,a,b,c\n2024-01-02,CNY,12x,81.22,a,b,c\n"
    with pytest.raises(FormatError, match=r"test\.csv:line 3: column '交易金额': '12x'"):
        read_text(text)


def test_a_broken_date_names_the_line() -> None:
    with pytest.raises(FormatError, match=r"line 2: column '记账日期': '2024/13/01'"):
        read_text(CMB_HEADER + "2024/13/01,CNY,-3.00,81.22,a,b,c\n")


def test_a_missing_column_names_the_header_line() -> None:
    with pytest.raises(FormatError, match="line 1: column '对手信息' is not in the header"):
        read_text("记账日期,货币,交易金额,联机余额,交易摘要,客户摘要\n")


def test_two_identical_rows_stay_two_entries_with_stable_keys() -> None:
    row = "2024-01-01,CNY,-3.00,81.22,一网通支付,国网电力,供电\n"
    first, again = read_text(CMB_HEADER + row + row), read_text(CMB_HEADER + row + row)
    assert len(first.entries) == 2
    assert first.entries[0].key != first.entries[1].key
    assert [e.key for e in first.entries] == [e.key for e in again.entries]


def test_balances_that_add_up_give_no_issue() -> None:
    stmt = read_text(CMB_HEADER + "2024-01-02,CNY,-3.00,97.00,a,b,c\n"
                     "2024-01-01,CNY,\"1,000.00\",100.00,a,b,c\n")
    assert stmt.opening is not None and stmt.opening.amount.amount == Decimal("-900.00")
    assert stmt.closing is not None and stmt.closing.amount.amount == Decimal("97.00")
    assert check_statement(stmt) == []


def test_formula_looking_cells_are_kept_as_text() -> None:
    text = CMB_HEADER + "2024-01-01,CNY,-3.00,81.22,\"=cmd|' /C calc'!A0\",@SUM(1+1),+x\n"
    entry = read_text(text).entries[0]
    assert entry.remittance == "=cmd|' /C calc'!A0 / +x"
    assert entry.counterparty_name == "@SUM(1+1)"


def test_xlsx_export_is_read_and_formulas_are_not_evaluated() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["记账日期", "货币", "交易金额", "联机余额", "交易摘要", "对手信息", "客户摘要"])
    sheet.append(["2024-01-01", "CNY", "-3.00", 97, "=1+1", "x", "y"])
    sheet.append([date(2024, 1, 2), "CNY", 15.9, 112.9, "a", "b", "c"])
    buffer = io.BytesIO()
    book.save(buffer)
    stmt = read_csv_statement(io.BytesIO(buffer.getvalue()), builtin_profiles()["cmb_debit"],
                              "x.xlsx")
    assert amounts(stmt) == [Decimal("-3.00"), Decimal("15.90")]
    assert stmt.entries[0].remittance == "=1+1 / y"
    assert stmt.entries[1].booking_date == date(2024, 1, 2)
    assert check_statement(stmt) == []


def test_xls_files_are_refused_with_advice() -> None:
    with pytest.raises(FormatError, match=r"save it as \.xlsx"):
        read_csv_statement(io.BytesIO((SAMPLES / "citic.xls").read_bytes()),
                           builtin_profiles()["cmb_debit"], "citic.xls")


def test_a_user_profile_from_a_directory_is_loaded_and_detected(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mybank.toml").write_text("""
name = "mybank"
sniff = ["Datum,Betrag"]
header_line = 1
date_formats = ["%d.%m.%Y"]
currency = "EUR"
thousands = "."
[columns]
date = "Datum"
amount = "Betrag"
serial = "Ref"
""", encoding="utf-8")
    monkeypatch.setenv(PROFILES_ENV, str(tmp_path))
    raw = b"Datum,Betrag,Ref\n01.02.2024,-1.234,R1\n"
    profile = detect_profile(raw)
    assert profile is not None and profile.name == "mybank"
    assert load_profiles([tmp_path])["mybank"] == profile
    entry = read_csv_statement(io.BytesIO(raw), profile, "my.csv").entries[0]
    assert entry.amount.amount == Decimal("-1234.00")
    assert entry.key == EntryKey("bank_reference", "R1")


@pytest.mark.parametrize(("toml", "key"), [
    ('name = "x"\nheader_line = 1\n[columns]\ndate = "d"\n', "columns.amount"),
    ('name = "x"\nheader_line = 1\ncolour = 1\n[columns]\ndate = "d"\namount = "a"\n', "colour"),
    ('name = "x"\n[columns]\ndate = "d"\namount = "a"\n', "header_line"),
    ('name = "x"\nheader_line = 1\ncurrency = "RMB"\n[columns]\ndate = "d"\namount = "a"\n',
     "currency"),
    ('name = "x"\nheader_line = 1\n[columns]\ndate = "d"\ndebit = "a"\n', "columns.debit"),
    ('name = "x"\nheader_line = 1\nencoding = "gbkk"\n[columns]\ndate = "d"\namount = "a"\n',
     "encoding"),
])
def test_a_wrong_profile_is_refused_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    (tmp_path / "bad.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        load_profile(tmp_path / "bad.toml")


SRC_PROFILES = Path(__file__).resolve().parents[2] / "src/bankgate/formats/csvprofiles/builtin"


def test_an_xlsx_that_unpacks_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from bankgate.formats.csvprofiles import reader

    monkeypatch.setattr(reader, "MAX_XLSX_UNPACKED_BYTES", 1000)
    buffer = io.BytesIO()
    Workbook().save(buffer)
    with pytest.raises(FormatError, match="refused"):
        read_csv_statement(io.BytesIO(buffer.getvalue()), builtin_profiles()["cmb_debit"],
                           "bomb.xlsx")
