"""Submit, idempotency, rejections in every dialect, settlement, returns, conservation."""

from __future__ import annotations

import random

import pytest

from bankgate.sandbox.dialects import DIALECTS
from tests.sandbox.conftest import ACCOUNTS, PAYEE, batch, order


def _status(post, bank: str, *ids: str) -> list[dict]:
    return post(bank, "/payments/status", {"instruction_ids": list(ids)}).json()["orders"]


def test_submit_books_once_and_the_same_batch_again_returns_the_first_answer(post, sandbox):
    body = batch("icbc", order("icbc"), order("cmb"))
    first = post("icbc", "/payments/batches", body)
    assert first.status_code == 200
    assert [line["status"] for line in first.json()["orders"]] == ["20", "20"]
    again = post("icbc", "/payments/batches", body)
    assert again.status_code == 200 and again.json() == first.json()
    bookings = sandbox.ledger.debit_bookings()
    assert [bookings[o["instruction_id"]] for o in body["orders"]] == [1, 1]
    company = sandbox.ledger.balance_minor("icbc", ACCOUNTS["icbc"][0])
    assert company == 100_000_000 - 20_000


def test_the_same_batch_id_with_another_body_is_409_duplicate(post, sandbox):
    body = batch("cmb", order("cmb"))
    assert post("cmb", "/payments/batches", body).status_code == 200
    changed = {**body, "orders": [{**body["orders"][0], "amount": "100.01"}]}
    answer = post("cmb", "/payments/batches", changed)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "DUP_REQ"
    assert sandbox.ledger.debit_bookings()[body["orders"][0]["instruction_id"]] == 1


def test_key_order_and_spacing_do_not_make_another_body(client, post):
    body = batch("boc", order("boc"))
    assert post("boc", "/payments/batches", body).status_code == 200
    import json
    shuffled = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    answer = client.post("/boc/v1/payments/batches", content=shuffled,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 200


@pytest.mark.parametrize("bank", sorted(DIALECTS))
def test_an_instruction_held_from_another_batch_is_not_booked_twice(post, sandbox, bank):
    line = order(bank)
    assert post(bank, "/payments/batches", batch(bank, line)).status_code == 200
    other = post(bank, "/payments/batches", batch(bank, line, order(bank)))
    assert other.status_code == 200
    duplicate, fresh = other.json()["orders"]
    codes = DIALECTS[bank]
    assert duplicate["error_code"] == codes.errors["duplicate_instruction"]
    assert duplicate["status"] == codes.statuses["accepted"]  # the held order's real status
    assert fresh["error_code"] is None
    assert sandbox.ledger.debit_bookings()[line["instruction_id"]] == 1


def test_the_same_instruction_twice_in_one_batch_is_booked_once(post, sandbox):
    line = order("icbc")
    lines = post("icbc", "/payments/batches", batch("icbc", line, line)).json()["orders"]
    assert lines[1]["error_code"] == "E1009"
    assert sandbox.ledger.debit_bookings()[line["instruction_id"]] == 1


_REASONS = {
    "unknown_account": lambda bank: order(bank, account="987654321098"),
    "closed_account": lambda bank: order(bank, account=ACCOUNTS[bank][2], name="王五"),
    "name_mismatch": lambda bank: order(bank, name=PAYEE[bank] + "X"),
    "insufficient_funds": lambda bank: order(bank, amount="9999999.00"),
}


@pytest.mark.parametrize("reason", sorted(_REASONS))
@pytest.mark.parametrize("bank", sorted(DIALECTS))
def test_each_rejection_reason_in_each_dialect_books_nothing(post, sandbox, bank, reason):
    line = _REASONS[reason](bank)
    before = sandbox.ledger.balance_minor(bank, ACCOUNTS[bank][0])
    answer = post(bank, "/payments/batches", batch(bank, line)).json()["orders"][0]
    codes = DIALECTS[bank]
    assert answer["status"] == codes.statuses["rejected"]
    assert answer["error_code"] == codes.errors[reason]
    assert answer["error_message"]
    assert line["instruction_id"] not in sandbox.ledger.debit_bookings()
    assert sandbox.ledger.balance_minor(bank, ACCOUNTS[bank][0]) == before
    assert _status(post, bank, line["instruction_id"])[0]["error_code"] == codes.errors[reason]


@pytest.mark.parametrize("bank", sorted(DIALECTS))
def test_an_unknown_or_closed_debtor_or_wrong_currency_refuses_the_whole_batch(post, bank):
    body = batch(bank, order(bank))
    unknown = post(bank, "/payments/batches", {**body, "debtor_account": "555555555"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == DIALECTS[bank].errors["unknown_debtor"]
    closed = post(bank, "/payments/batches", {**body, "debtor_account": ACCOUNTS[bank][2]})
    assert closed.json()["error"]["code"] == DIALECTS[bank].errors["closed_account"]
    usd = post(bank, "/payments/batches", {**body, "currency": "USD"})
    assert usd.status_code == 422 and "USD" in usd.json()["error"]["message"]


def test_an_id_the_bank_does_not_hold_has_the_not_found_status(post):
    for bank, codes in DIALECTS.items():
        assert _status(post, bank, "nope-1")[0]["status"] == codes.statuses["not_found"]


def test_settlement_credits_the_payee_at_the_same_bank_and_at_another_sandbox_bank(
        post, sandbox):
    same, cross, external = order("cmb"), order("icbc"), order("abc", account="6228480000001")
    post("cmb", "/payments/batches", batch("cmb", same, cross, external))
    assert sandbox.settle_now() == 3
    statuses = _status(post, "cmb", same["instruction_id"], cross["instruction_id"],
                       external["instruction_id"])
    assert [s["status"] for s in statuses] == ["FIN-S"] * 3
    assert sandbox.ledger.balance_minor("cmb", ACCOUNTS["cmb"][1]) == 1_000 + 10_000
    assert sandbox.ledger.balance_minor("icbc", ACCOUNTS["icbc"][1]) == 1_000 + 10_000
    assert sandbox.ledger.balance_minor("cmb", "EXTERNAL_CLEARING-CNY") == 10_000
    assert sandbox.ledger.balance_minor("cmb", "IN_TRANSIT-CNY") == 0


def test_settlement_happens_by_itself_after_the_delay(post, sandbox):
    line = order("boc")
    post("boc", "/payments/batches", batch("boc", line))
    import time
    deadline = time.monotonic() + 3
    while _status(post, "boc", line["instruction_id"])[0]["status"] != "ACSC":
        assert time.monotonic() < deadline, "not settled within 3 s"
        time.sleep(0.02)


@pytest.mark.parametrize("problem", ["unknown", "closed", "mismatch"])
def test_a_payee_refused_by_the_other_bank_is_returned_and_the_debit_reversed(
        post, sandbox, problem):
    line = {"unknown": order("boc", account="300000000999"),
            "closed": order("boc", account=ACCOUNTS["boc"][2], name="王五"),
            "mismatch": order("boc", name="Mario Garcia")}[problem]
    before = sandbox.ledger.balance_minor("icbc", ACCOUNTS["icbc"][0])
    accepted = post("icbc", "/payments/batches", batch("icbc", line)).json()["orders"][0]
    assert accepted["status"] == "20"  # the other bank's accounts are unknown at acceptance
    assert sandbox.ledger.balance_minor("icbc", ACCOUNTS["icbc"][0]) == before - 10_000
    sandbox.settle_now()
    status = _status(post, "icbc", line["instruction_id"])[0]
    expected = {"unknown": "E2002", "closed": "E2003", "mismatch": "E2004"}[problem]
    assert (status["status"], status["error_code"]) == ("50", expected)
    assert sandbox.ledger.balance_minor("icbc", ACCOUNTS["icbc"][0]) == before
    assert sandbox.ledger.debit_bookings()[line["instruction_id"]] == 1
    assert sandbox.ledger.total_minor() == sandbox.ledger.opening_total_minor()


def test_money_is_conserved_across_a_random_mix_of_operations(post, sandbox, client):
    seed = random.randrange(1_000_000)
    print(f"seed={seed}")
    rng = random.Random(seed)
    banks = sorted(ACCOUNTS)
    sent: list[tuple[str, dict]] = []
    for _ in range(25):
        bank = rng.choice(banks)
        lines = []
        for _ in range(rng.randint(1, 6)):
            target = rng.choice([*banks, "abc", None])
            kind = rng.random()
            line = order(target, amount=f"{rng.randint(1, 3_000_000) / 100:.2f}")
            if kind < 0.1:
                line["payee_account"] = "111111111111"
            elif kind < 0.2:
                line["payee_name"] = "某人"
            elif kind < 0.3 and any(b == bank for b, _ in sent):
                # a resend under a new batch, to the bank that has it (INV-1 counts per id
                # across all banks: the same id at two banks would be two payments)
                line = rng.choice([body for b, body in sent if b == bank])["orders"][0]
            lines.append(line)
        body = batch(bank, *lines)
        if rng.random() < 0.2 and sent:
            bank, body = rng.choice(sent)  # the same batch again
        answer = post(bank, "/payments/batches", body)
        assert answer.status_code == 200, (seed, answer.text)
        sent.append((bank, body))
        if rng.random() < 0.3:
            sandbox.settle_now()
        assert sandbox.ledger.total_minor() == sandbox.ledger.opening_total_minor(), seed
    sandbox.settle_now()
    snapshot = client.get("/_sandbox/ledger").json()
    assert snapshot["total_minor"] == snapshot["opening_total_minor"], seed
    assert all(n == 1 for n in snapshot["bookings"].values()), seed
    assert all(a["balance"] == "0.00" for a in snapshot["accounts"]
               if a["kind"] == "in_transit"), seed
    assert all(not a["balance"].startswith("-") for a in snapshot["accounts"]), seed
