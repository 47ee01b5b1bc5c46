"""API fixtures: the real app over the parametrised store; a real server when threads race."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from bankgate.api import create_app
from bankgate.bootstrap import App, build_app
from bankgate.settings import Settings

ACCOUNTS = [{"id": "icbc-cny", "bank": "icbc", "number": "6222020200001000001",
             "currency": "CNY", "name": "示例科技有限公司"},
            {"id": "jpy-1", "bank": "icbc", "number": "6222020200001000099",
             "currency": "JPY", "name": "示例科技有限公司"},
            {"id": "boc-cny", "bank": "boc", "number": "4563510100892345678",
             "currency": "CNY", "name": "示例科技有限公司"}]


@pytest.fixture(scope="session")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    from bankgate.crypto.pki import issue_test_pki

    return str(issue_test_pki(tmp_path_factory.mktemp("pki")).ca_cert)


@pytest.fixture
def banks() -> dict[str, Any]:
    """No bank channels: most API tests never reach a bank (callback tests override this)."""
    return {}


@pytest.fixture
def gateway(store_url: str, banks: dict[str, Any]) -> Iterator[App]:
    """The App over the parametrised store (SQLite, PostgreSQL)."""
    app = build_app(Settings(db_url=store_url), {"accounts": ACCOUNTS, "banks": banks,
                                                 "policy": "straight-through"})
    yield app
    app.close()


@pytest.fixture
def server(gateway: App) -> Iterator[str]:
    """The API on a real uvicorn server on 127.0.0.1 (port chosen by the OS)."""
    config = uvicorn.Config(create_app(gateway), host="127.0.0.1", port=0, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = running.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


def erp_headers(app: App) -> dict[str, str]:
    """An ERP client's API key with every scope an API key can have (issue 5)."""
    from bankgate.domain.people import SCOPES
    from bankgate.services.users import create_api_client

    _, key = create_api_client(uow=app.uow, name=f"erp-{id(app)}-{len(SCOPES)}",
                               scopes=SCOPES, actor="test:setup", now=app.now)
    return {"X-API-Key": key}


@pytest.fixture
def auth(gateway: App) -> dict[str, str]:
    """Headers that authenticate as the ERP client."""
    return erp_headers(gateway)


@pytest.fixture
def client(gateway: App, auth: dict[str, str]) -> Iterator[TestClient]:
    """The real app over the real store, in process (races use `server`), as the ERP."""
    with TestClient(create_app(gateway), headers=auth) as http:
        yield http


def a_payment(**overrides: Any) -> dict[str, Any]:
    """A valid single-payment body."""
    body: dict[str, Any] = {"debtor_account": "icbc-cny", "payee_name": "上海某某贸易有限公司",
                            "payee_account": "6222020200009000001", "payee_bank": "icbc",
                            "amount": "1200.50", "currency": "CNY", "remittance": "INV-1"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def order_count(gateway: App) -> int:
    with gateway.uow() as unit:
        return sum(unit.orders.count_by_status().values())
