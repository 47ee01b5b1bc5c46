"""A-15: SQL injection in filters and header/log injection through names are harmless.

Filters reach the store as bound parameters, so a filter that is SQL matches nothing and
breaks nothing; a payee name with CR/LF (a forged log line or header) is refused at the
door naming the field, and nothing is stored.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import a_payment, order_count

KEY = {"Idempotency-Key": "erp-a15-0001"}
SQL = ["' OR '1'='1", "x'; DROP TABLE payment_orders; --", "1 UNION SELECT * FROM users"]


@pytest.mark.parametrize("filter_", SQL)
def test_A15_a_filter_that_is_sql_matches_nothing_and_the_table_survives(client, gateway,
                                                                          filter_):
    assert client.post("/api/v1/payments", json=a_payment(), headers=KEY).status_code == 201
    listed = client.get("/api/v1/payments", params={"batch_id": filter_})
    assert listed.status_code == 200 and listed.json()["payments"] == []
    assert client.get("/api/v1/batches", params={"state": filter_[:20]}).status_code in (200,
                                                                                        422)
    assert len(client.get("/api/v1/payments").json()["payments"]) == 1 == order_count(gateway)


@pytest.mark.parametrize("name", ["上海某某\r\nX-Injected: 1", "ACME\nINFO forged log line",
                                  "ACME\x00", "ACME\u2028next"])
def test_A15_a_payee_name_with_line_breaks_or_controls_is_refused_and_nothing_stored(
        client, gateway, name):
    answer = client.post("/api/v1/payments", json=a_payment(payee_name=name), headers=KEY)
    assert answer.status_code == 422 and answer.json()["pointer"] == "/payee_name"
    assert "\n" not in answer.text.replace("\\n", "")  # the error does not echo a raw break
    assert order_count(gateway) == 0
