"""Sandbox fixtures: a small world, the banks running on 127.0.0.1 with real TLS, a client."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankgate.crypto import client_ssl_context
from bankgate.sandbox.run import RunningSandbox, start_sandbox
from bankgate.sandbox.world import World
from tests.signing import GatewaySigning

COMPANY = "示例科技有限公司"
#: bank → (company account, open payee, closed payee); payee names below.
ACCOUNTS = {"icbc": ("100000000001", "100000000101", "100000000102"),
            "cmb": ("200000000001", "200000000101", "200000000102"),
            "boc": ("300000000001", "300000000101", "300000000102")}
PAYEE = {"icbc": "张三", "cmb": "上海宏达贸易有限公司", "boc": "Maria Garcia"}
OPENING = {"icbc": "1000000.00", "cmb": "100000.00", "boc": "50000.00"}
_ids = itertools.count(1)


def small_world() -> World:
    """Three banks, one dialect each; a company account, an open and a closed payee at each."""
    accounts: list[dict[str, Any]] = []
    for bank, (company, payee, closed) in ACCOUNTS.items():
        accounts += [
            {"bank": bank, "number": company, "holder": COMPANY, "opening_balance": OPENING[bank],
             "company": True},
            {"bank": bank, "number": payee, "holder": PAYEE[bank], "opening_balance": "10.00"},
            {"bank": bank, "number": closed, "holder": "王五", "opening_balance": "0.00",
             "open": False},
        ]
    return World.from_dict({"banks": [{"id": b, "dialect": b} for b in ACCOUNTS],
                            "accounts": accounts, "company": COMPANY})


def new_id(prefix: str = "I") -> str:
    """A fresh instruction or batch id."""
    return f"{prefix}{next(_ids):06d}"


def order(payee_bank: str | None, *, amount: str = "100.00", account: str | None = None,
          name: str | None = None, iid: str | None = None) -> dict[str, Any]:
    """One order line paying the open payee at `payee_bank` unless told otherwise."""
    bank = payee_bank or "icbc"
    return {"instruction_id": iid or new_id(), "amount": amount,
            "payee_name": name if name is not None else PAYEE.get(bank, "某某"),
            "payee_account": account or ACCOUNTS.get(bank, ("", "999999999999"))[1],
            "payee_bank": payee_bank, "remittance": "测试 test"}


def batch(bank: str, *orders: dict[str, Any], callback_url: str | None = None,
          batch_id: str | None = None) -> dict[str, Any]:
    """A batch from the company's account at `bank`."""
    return {"batch_id": batch_id or new_id("B"), "debtor_account": ACCOUNTS[bank][0],
            "currency": "CNY", "execution_date": "2026-11-23", "callback_url": callback_url,
            "orders": list(orders)}


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-pki")


@pytest.fixture
def sandbox(pki_dir: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(small_world(), state_dir=pki_dir, settle_delay_s=0.05) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """Mutual TLS with the gateway's client certificate; requests signed as the gateway."""
    with httpx.Client(base_url=sandbox.base_url, verify=client_ssl_context(sandbox.pki),
                      auth=GatewaySigning(sandbox.keys), timeout=5.0) as http:
        yield http


@pytest.fixture
def post(client: httpx.Client) -> Callable[..., httpx.Response]:
    """POST JSON to a bank endpoint: post("icbc", "/balances", body)."""
    def call(bank: str, path: str, body: Any) -> httpx.Response:
        return client.post(f"/{bank}/v1{path}", json=body)
    return call
