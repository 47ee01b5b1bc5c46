"""Each matching rule on small explicit cases: what it matches, its confidence and explanation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bankgate.domain.errors import InvalidField
from bankgate.domain.recon import LineStatus, MatchConfig, Rule
from bankgate.recon import match
from tests.recon.builders import DAY, a_line, an_item, assert_each_once


def test_an_echoed_end_to_end_id_with_the_same_amount_is_confirmed_at_100() -> None:
    result = match([a_line(end_to_end_id="E2E-1")],
                   [an_item(end_to_end_id="E2E-1", expected_date=DAY - timedelta(days=9))])
    (m,) = result.matches
    assert (m.line_ids, m.item_ids, m.rule, m.confidence) == (("L1",), ("I1",), Rule.EXACT_ID,
                                                               100)
    assert m.auto_confirmed and m.explanation == "end-to-end id E2E-1 matches, same amount"
    assert_each_once(result, 1, 1)


def test_an_instruction_id_matches_when_the_bank_drops_the_end_to_end_id() -> None:
    result = match([a_line(instruction_id="INS-7")],
                   [an_item(end_to_end_id="E2E-7", instruction_id="INS-7")])
    assert result.matches[0].explanation == "instruction id INS-7 matches, same amount"


def test_an_id_with_a_fee_deducted_records_the_fee_as_the_difference() -> None:
    result = match([a_line(amount=98_500, end_to_end_id="E2E-2")],
                   [an_item(amount=100_000, end_to_end_id="E2E-2")])
    (m,) = result.matches
    assert (m.confidence, m.amounts_minor, m.difference_minor) == (96, (100_000,), -1_500)
    assert m.explanation == "end-to-end id E2E-2 matches, fee 15.00 deducted"


def test_a_returned_payment_matches_the_return_not_the_payment_with_the_same_id() -> None:
    lines = [a_line("out", -50_000, end_to_end_id="E2E-3"),
             a_line("back", 50_000, end_to_end_id="E2E-3")]
    items = [an_item("pay", -50_000, end_to_end_id="E2E-3"),
             an_item("ret", 50_000, kind="return", end_to_end_id="E2E-3")]
    result = match(lines, items)
    assert {(m.line_ids, m.item_ids) for m in result.matches} == {
        (("out",), ("pay",)), (("back",), ("ret",))}
    assert_each_once(result, 2, 2)


def test_a_batch_booked_as_one_debit_matches_all_its_payments() -> None:
    items = [an_item(f"P{k}", -10_000 * k, batch_id="B-9") for k in (1, 2, 3)]
    result = match([a_line(amount=-60_000, remittance="代发工资 B-9")], items)
    (m,) = result.matches
    assert (m.rule, m.item_ids, m.amounts_minor) == (Rule.BATCH, ("P1", "P2", "P3"),
                                                      (-10_000, -20_000, -30_000))
    assert m.confidence == 99
    assert m.explanation == "batch B-9 named in the line, 3 payments sum to the amount, same day"
    assert_each_once(result, 1, 3)


def test_same_amount_and_counterparty_account_within_the_window_matches() -> None:
    line = a_line(amount=200_000, booking_date=DAY + timedelta(days=2),
                  counterparty_account="6222 0202 0000 1234")
    item = an_item(amount=200_000, counterparty_account="6222020200001234")
    (m,) = match([line], [item]).matches
    assert (m.rule, m.confidence) == (Rule.AMOUNT_ACCOUNT, 95)
    assert m.explanation == "same amount, same counterparty account, date within 2 days"


def test_same_amount_and_account_outside_the_date_window_does_not_match() -> None:
    line = a_line(amount=200_000, booking_date=DAY + timedelta(days=4), counterparty_account="9")
    result = match([line], [an_item(amount=200_000, counterparty_account="9")])
    assert result.matches == () and result.unmatched_line_ids == ("L1",)


def test_the_value_date_counts_over_the_booking_date() -> None:
    line = a_line(amount=200_000, booking_date=DAY + timedelta(days=5), value_date=DAY,
                  counterparty_account="9")
    (m,) = match([line], [an_item(amount=200_000, counterparty_account="9")]).matches
    assert m.explanation.endswith("same day")


@pytest.mark.parametrize(("remittance", "reference"), [
    ("货款 发票号 12345678", "12345678"),
    ("发票号：１２３４５６７８ 货款", "12345678"),
    ("payment for INV-2024-001, thanks", "INV-2024-001"),
    ("Invoice No. 2024-001", "INV-2024-001"),
    ("订单号SO-88812", "SO-88812"),
])
def test_a_reference_in_the_remittance_names_the_item(remittance: str, reference: str) -> None:
    line = a_line(amount=300_000, remittance=remittance, counterparty_name="某客户")
    items = [an_item("other", 300_000, references=("99999999",)),
             an_item("I1", 300_000, references=(reference,))]
    result = match([line], items)
    (m,) = result.matches
    assert (m.rule, m.item_ids, m.confidence) == (Rule.REFERENCE, ("I1",), 97)
    assert m.explanation == f"reference {reference} in the remittance, same amount, same day"


def test_a_similar_name_with_a_fee_deducted_matches_and_says_how_similar() -> None:
    line = a_line(amount=99_000, booking_date=DAY + timedelta(days=1),
                  counterparty_name="上海华信电子科枝")
    items = [an_item(amount=100_000, counterparty_name="上海华信电子科技有限公司"),
             an_item("far", 100_000, counterparty_name="北京远大贸易有限公司")]
    result = match([line], items)
    (m,) = result.matches
    assert (m.rule, m.item_ids, m.difference_minor) == (Rule.FUZZY_NAME, ("I1",), -1_000)
    assert m.explanation == "fee 10.00 deducted, date within 1 day, name 87% similar"
    assert m.confidence == 91 and m.auto_confirmed  # 92 at the cut-off + 0, fee −1


@pytest.mark.parametrize(("ours", "theirs"), [
    ("深圳市前海微众科技股份有限公司", "深圳市前海微众科技"),
    ("ＡＢＣ　Ｔｒａｄｉｎｇ　Ｃｏ．，Ｌｔｄ．", "abc trading"),
    ("杭州云图信息有限责任公司", "杭州云图信息有限公司"),
])
def test_company_suffixes_case_and_full_width_do_not_count(ours: str, theirs: str) -> None:
    result = match([a_line(amount=100_000, counterparty_name=theirs)],
                   [an_item(amount=100_000, counterparty_name=ours)])
    (m,) = result.matches
    assert m.explanation == "same amount, same day, name 100% similar"
    assert m.confidence == 97 and m.auto_confirmed


def test_two_receipts_paying_one_invoice_match_it_together() -> None:
    lines = [a_line("L1", 60_000, remittance="INV-2024-007 part 1"),
             a_line("L2", 40_000, remittance="INV-2024-007 rest",
                    booking_date=DAY + timedelta(days=1))]
    result = match(lines, [an_item(amount=100_000, references=("INV-2024-007",))])
    (m,) = result.matches
    assert (m.rule, m.line_ids, m.amounts_minor, m.remaining_minor) == (
        Rule.MANY_TO_ONE, ("L1", "L2"), (100_000,), (0,))
    assert m.explanation == ("2 lines name INV-2024-007 and together pay the open amount, "
                             "date within 1 day")
    assert_each_once(result, 2, 1)


def test_a_partial_payment_settles_part_and_says_what_stays_open() -> None:
    result = match([a_line(amount=40_000, remittance="发票号 87654321 首付")],
                   [an_item(amount=100_000, references=("87654321",))])
    (m,) = result.matches
    assert (m.amounts_minor, m.remaining_minor) == ((40_000,), (60_000,))
    assert m.explanation == ("the line names 87654321: partial payment 400.00 of 1,000.00, "
                             "600.00 stays open, same day")
    assert result.unmatched_item_ids == ()


def test_below_threshold_candidates_wait_in_the_queue_best_first() -> None:
    line = a_line(amount=100_000, counterparty_name="华信科技")
    items = [an_item("I1", 100_000, counterparty_name="华信科拔"),
             an_item("I2", 100_000, counterparty_name="华信"),
             an_item("I3", 100_000, counterparty_name="远大贸易")]
    result = match([line], items, MatchConfig(max_suggestions=2))
    assert result.matches == () and result.unmatched_line_ids == ("L1",)
    (s,) = result.suggestions
    assert s.line_id == "L1" and [c.item_ids for c in s.candidates] == [("I1",), ("I2",)]
    confidences = [c.confidence for c in s.candidates]
    assert confidences == sorted(confidences, reverse=True) and confidences[0] < 90
    assert not any(c.auto_confirmed for c in s.candidates)
    assert s.candidates[0].explanation == "same amount, same day, name 75% similar"


def test_two_items_as_good_as_each_other_go_to_the_queue_not_to_a_guess() -> None:
    line = a_line(amount=100_000, counterparty_account="9")
    items = [an_item("I1", 100_000, counterparty_account="9"),
             an_item("I2", 100_000, counterparty_account="9")]
    result = match([line], items)
    assert result.matches == ()
    assert {c.item_ids for c in result.suggestions[0].candidates} == {("I1",), ("I2",)}


def test_same_amount_twice_on_one_day_goes_to_each_counterparty() -> None:
    lines = [a_line("La", 100_000, counterparty_name="甲公司贸易", counterparty_account="A"),
             a_line("Lb", 100_000, counterparty_name="乙公司物流", counterparty_account="B")]
    items = [an_item("Ib", 100_000, counterparty_account="B"),
             an_item("Ia", 100_000, counterparty_account="A")]
    result = match(lines, items)
    assert {(m.line_ids, m.item_ids) for m in result.matches} == {
        (("La",), ("Ia",)), (("Lb",), ("Ib",))}


def test_pending_intraday_lines_are_not_matched() -> None:
    lines = [a_line("pending", status=LineStatus.PENDING, end_to_end_id="E"),
             a_line("booked", end_to_end_id="E")]
    result = match(lines, [an_item(end_to_end_id="E")])
    assert result.matches[0].line_ids == ("booked",)
    assert result.pending_line_ids == ("pending",) and result.unmatched_line_ids == ()


def test_rules_switched_off_are_not_applied() -> None:
    config = MatchConfig(rules=(Rule.REFERENCE,))
    result = match([a_line(end_to_end_id="E")], [an_item(end_to_end_id="E")], config)
    assert result.matches == () and result.unmatched_item_ids == ("I1",)


def test_other_accounts_and_currencies_never_match() -> None:
    items = [an_item("I1", end_to_end_id="E", account_id="acc-2"),
             an_item("I2", end_to_end_id="E", currency="USD")]
    assert match([a_line(end_to_end_id="E")], items).matches == ()


@pytest.mark.parametrize("rule", [Rule.AMOUNT_ACCOUNT, Rule.REFERENCE, Rule.FUZZY_NAME])
def test_the_amount_rules_match_only_within_the_line_s_account_and_currency(rule: Rule) -> None:
    """The array joins compare ledger codes: each line finds the one item of its own account
    and currency among twins that differ only there (two currencies make the codes dense)."""
    twin = {"counterparty_account": "6222 0000 1111", "counterparty_name": "上海华信科技有限公司",
            "references": ("INV-2026-0042",)}
    said = {"counterparty_account": "622200001111", "counterparty_name": "上海华信科技",
            "remittance": "payment INV-2026-0042"}
    items = [an_item("I-acc2", **twin, account_id="acc-2"),
             an_item("I-usd", **twin, currency="USD"),
             an_item("I-cny", **twin)]
    lines = [a_line("L-usd", **said, currency="USD"), a_line("L-acc2", **said, account_id="acc-2"),
             a_line("L-cny", **said)]
    result = match(lines, items, MatchConfig(rules=(rule,)))
    assert {(m.line_ids, m.item_ids) for m in result.matches} == {
        (("L-usd",), ("I-usd",)), (("L-acc2",), ("I-acc2",)), (("L-cny",), ("I-cny",))}
    assert {m.rule for m in result.matches} == {rule}
    assert_each_once(result, 3, 3)


def test_two_lines_with_one_id_are_refused() -> None:
    with pytest.raises(InvalidField, match="line id 'L1' appears twice"):
        match([a_line(), a_line()], [])


def test_both_legs_of_an_internal_transfer_match_their_own_account() -> None:
    lines = [a_line("in", 70_000, account_id="acc-2", end_to_end_id="T-1"),
             a_line("out", -70_000, end_to_end_id="T-1")]
    items = [an_item("leg-out", -70_000, kind="transfer_out", end_to_end_id="T-1"),
             an_item("leg-in", 70_000, kind="transfer_in", account_id="acc-2",
                     end_to_end_id="T-1")]
    result = match(lines, items)
    assert {(m.line_ids, m.item_ids) for m in result.matches} == {
        (("in",), ("leg-in",)), (("out",), ("leg-out",))}
    assert all(m.confidence == 100 for m in result.matches)


def test_one_id_on_two_identical_items_goes_to_the_queue() -> None:
    items = [an_item("I1", end_to_end_id="DUP"), an_item("I2", end_to_end_id="DUP")]
    result = match([a_line(end_to_end_id="DUP")], items)
    assert result.matches == ()
    (s,) = result.suggestions
    assert {c.item_ids for c in s.candidates} == {("I1",), ("I2",)}
    assert all(c.explanation.endswith("another candidate as good") for c in s.candidates)


def test_two_lines_with_one_id_do_not_both_take_the_item() -> None:
    lines = [a_line("L1", end_to_end_id="E"), a_line("L2", end_to_end_id="E")]
    result = match(lines, [an_item(end_to_end_id="E")])
    assert [m.line_ids for m in result.matches] == [("L1",)]
    assert result.unmatched_line_ids == ("L2",)
    assert_each_once(result, 2, 1)


def test_a_match_below_a_raised_threshold_waits_in_the_queue_even_on_the_fast_path() -> None:
    line = a_line(amount=200_000, booking_date=DAY + timedelta(days=2), counterparty_account="9")
    result = match([line], [an_item(amount=200_000, counterparty_account="9")],
                   MatchConfig(auto_confirm_threshold=96))
    assert result.matches == ()
    (s,) = result.suggestions
    assert s.candidates[0].confidence == 95 and not s.candidates[0].auto_confirmed
