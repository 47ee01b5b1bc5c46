"""INV-7 in logs: at DEBUG, with httpx logging every request URL, no full account number."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bankgate.logmask import install_log_masking, mask_log_text
from bankgate.services.cash import fetch_balances
from bankgate.services.sync import sync_account
from tests.cli.test_cli import bankgate
from tests.e2e.harness import gateway_config, write_config
from tests.services.finance_world import *  # noqa: F403  (the fixtures)
from tests.services.finance_world import bank_today


@pytest.fixture
def store_url(sqlite_url):
    """SQLite: the commands run as processes; the in-process test needs no second store."""
    return sqlite_url


def _numbers(world):
    return [a.number for a in world.company_accounts()]


def test_INV7_a_long_digit_run_is_masked_also_inside_a_url():
    url = "GET https://127.0.0.1:8443/accounts/6222020200001000001/transactions?d=20261201"
    assert mask_log_text(url) == \
        "GET https://127.0.0.1:8443/accounts/6222****0001/transactions?d=20261201"


def test_INV7_balances_and_sync_at_debug_log_no_full_account_number(gateway, world, caplog):
    install_log_masking()
    with caplog.at_level(logging.DEBUG):
        fetch_balances(uow=gateway.uow, channels=gateway.channels, now=gateway.now)
        sync_account(uow=gateway.uow, channels=gateway.channels, account_id="icbc-cny",
                     now=gateway.now, config=gateway.finance.sync, through=bank_today())
    text = caplog.text
    assert "/transactions" in text  # httpx logged the request URLs
    assert not [n for n in _numbers(world) if n in text]


def test_INV7_the_command_line_at_verbose_logs_no_full_account_number(
        gateway, sandbox, world, store_url, tmp_path: Path):
    config = write_config(tmp_path / "bankgate.toml", gateway_config(sandbox, world))
    env = {"BANKGATE_DB_URL": store_url, "BANKGATE_CONFIG": str(config)}
    logs = ""
    for args in (("-v", "balances"), ("-v", "sync", "icbc-cny")):
        done = bankgate(*args, env=env)
        assert done.returncode == 0, done.stderr
        logs += done.stderr
    assert "HTTP Request" in logs and "/transactions" in logs
    assert not [n for n in _numbers(world) if n in logs]
