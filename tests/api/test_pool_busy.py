"""I-03: when every store connection is in use, a request waits `db_pool_timeout_s` and is
then refused with 503 `store_busy`, nothing written; once connections come free the same
request succeeds."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.bootstrap import build_app
from bankgate.settings import Settings
from tests.api.conftest import ACCOUNTS, a_payment, erp_headers, order_count


@pytest.fixture
def busy_gateway(any_store_url: str, banks):
    if any_store_url.startswith("sqlite"):
        pytest.skip("SQLite opens a connection per use: no pool to exhaust")
    app = build_app(Settings(db_url=any_store_url, db_pool_timeout_s=0.5),
                    {"accounts": ACCOUNTS, "banks": banks, "policy": "straight-through"})
    yield app
    app.close()


def test_I03_an_exhausted_pool_is_a_clear_503_and_nothing_half_written(busy_gateway):
    app = busy_gateway
    with TestClient(create_app(app), headers=erp_headers(app)) as client:
        with ExitStack() as held:  # every connection of the pool, and its overflow
            pool = app.engine.pool
            size = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
            for _ in range(size):
                held.enter_context(app.engine.connect())
            refused = client.post("/api/v1/payments", json=a_payment(),
                                  headers={"Idempotency-Key": "i03-1"})
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "store_busy"
            assert "nothing was done, try again" in refused.json()["detail"]
        assert order_count(app) == 0
        again = client.post("/api/v1/payments", json=a_payment(),
                            headers={"Idempotency-Key": "i03-1"})
        assert again.status_code == 201, again.text
    assert order_count(app) == 1
