"""Name normalisation, reference extraction, and the domain values' own checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bankgate.domain.errors import InvalidField
from bankgate.domain.money import Money, currency
from bankgate.domain.recon import LineStatus, Match, MatchConfig, Rule, bank_line_from_entry
from bankgate.domain.recon_keys import (
    item_keys,
    pack_item_keys,
    pack_keys,
    unpack_item_keys,
    unpack_keys,
)
from bankgate.domain.statements import EntryKey, EntryStatus, Source, StatementEntry
from bankgate.recon import match_columns
from bankgate.recon.generate import generate
from bankgate.recon.text import normalise_name, reference_keys, remittance_keys
from tests.recon.builders import an_item


@pytest.mark.parametrize(("raw", "normal"), [
    ("上海华信科技有限公司", "上海华信科技"),
    ("上海华信科技有限责任公司", "上海华信科技"),
    ("上海华信科技股份有限公司", "上海华信科技"),
    ("上海华信科技（集团）有限公司", "上海华信科技"),
    ("ＡＢＣ　Ｔｒａｄｉｎｇ　Ｃｏ．，Ｌｔｄ．", "abctrading"),
    ("Acme Trading Co., Ltd.", "acmetrading"),
    ("Blue Harbor GmbH", "blueharbor"),
    ("有限公司", "有限公司"),  # a suffix alone is a name, not nothing
])
def test_names_lose_case_punctuation_width_and_legal_form(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal


@pytest.mark.parametrize(("text", "keys"), [
    ("货款 发票号 12345678", ("12345678",)),
    ("发票号码：１２３４５６７８", ("12345678",)),
    ("INV-2024-001 and INV-2024-002", ("INV2024001", "2024001", "INV2024002", "2024002")),
    ("订单号SO-88812", ("SO88812",)),
    ("往来款", ()),
    ("第3期 2024", ()),  # too short to tell one customer's invoice from another's
])
def test_remittance_text_yields_reference_keys(text: str, keys: tuple[str, ...]) -> None:
    assert remittance_keys(text) == keys


def test_an_items_reference_is_found_with_and_without_its_label() -> None:
    assert reference_keys("INV-2024-001") == ("INV2024001", "2024001")
    assert reference_keys("12345678") == ("12345678",)


def test_a_statement_entry_becomes_a_bank_line() -> None:
    entry = StatementEntry(
        key=EntryKey("bank_reference", "R1"), amount=Money(Decimal("-12.50"), currency("CNY")),
        status=EntryStatus.PENDING, booking_date=date(2026, 11, 23), value_date=None,
        bank_reference="R1", end_to_end_id="E2E-1", counterparty_name="某公司",
        remittance="货款", source=Source(origin="test"))
    line = bank_line_from_entry(entry, line_id="L1", account_id="acc-1")
    assert (line.amount_minor, line.currency, line.status, line.end_to_end_id) == (
        -1250, "CNY", LineStatus.PENDING, "E2E-1")
    assert line.effective_date == date(2026, 11, 23) and line.bank_reference == "R1"


def test_an_open_amount_larger_than_the_item_is_refused() -> None:
    with pytest.raises(InvalidField, match="open amount exceeds"):
        an_item(amount=-100, open_amount_minor=-200)


def test_a_config_with_a_repeated_rule_is_refused() -> None:
    with pytest.raises(InvalidField, match="must not repeat"):
        MatchConfig(rules=(Rule.EXACT_ID, Rule.EXACT_ID))


def test_a_threshold_of_zero_is_refused_since_it_would_confirm_every_guess() -> None:
    with pytest.raises(InvalidField, match="auto_confirm_threshold"):
        MatchConfig(auto_confirm_threshold=0)


def test_the_fee_tolerance_is_capped_by_a_share_of_the_amount() -> None:
    config = MatchConfig(fee_tolerance_minor=5_000, fee_max_percent=10)
    assert config.fee_tolerance(1_000_000) == 5_000
    assert config.fee_tolerance(-20_000) == 2_000
    assert MatchConfig(fee_tolerance_per_mille=10).fee_tolerance(1_000_000) == 10_000


def test_a_confidence_above_100_is_refused() -> None:
    with pytest.raises(InvalidField, match=r"not within 0\.\.100"):
        Match(line_ids=("L",), item_ids=("I",), amounts_minor=(1,), rule=Rule.EXACT_ID,
              confidence=101, explanation="", auto_confirmed=True)


@pytest.mark.parametrize("references", [(), ("INV-2024-001",), ("12", "SO-88812", "12345678")])
def test_an_items_keys_survive_the_stored_form(references: tuple[str, ...]) -> None:
    keys = item_keys(references)
    assert unpack_item_keys(pack_item_keys(keys), len(references)) == keys
    assert len(keys) == len(references)


def test_a_lines_keys_survive_the_stored_form() -> None:
    keys = remittance_keys("货款 发票号：INV-2024-001，订单号SO-88812")
    assert keys and unpack_keys(pack_keys(keys)) == keys
    assert unpack_keys(pack_keys(())) == ()


def test_stored_item_keys_of_another_number_of_references_are_refused() -> None:
    with pytest.raises(ValueError, match="2 references' keys, the item has 1"):
        unpack_item_keys("INV2024001;SO88812", 1)
    with pytest.raises(InvalidField, match="one tuple per reference"):
        an_item(references=("INV-2024-001",), reference_keys=())


def test_bulk_item_columns_whose_stored_keys_do_not_fit_the_references_are_refused() -> None:
    """The bulk path (columns, no `OpenItem` built) checks what `OpenItem` checks: one
    tuple of keys per reference, else the run stops naming the item."""
    world = generate(2_000, seed=3)
    keys = list(world.items.reference_keys or ())
    bad = next(i for i, refs in enumerate(world.items.references) if len(refs) == 1)
    keys[bad] = (("INV1",), ("INV2",))
    items = replace(world.items, reference_keys=keys)
    with pytest.raises(InvalidField, match=f"item {world.items.id[bad]!r}: its stored "
                                           "reference keys"):
        match_columns(world.lines, items, MatchConfig())
