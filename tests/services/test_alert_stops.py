"""Never a silent stop (issue 5, I-10): a payment dispatch or a statement sync refused because
our client certificate for a bank expired sends nothing and raises a critical alert.

Real sandbox banks over mutual TLS; the gateway's client certificate for icbc is issued by
the sandbox's CA but expired yesterday (crypto/pki.py `issue_certificate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bankgate.bootstrap import App, build_app
from bankgate.crypto.pki import Usage, issue_certificate
from bankgate.domain import Status
from bankgate.domain.alerts import AlertLevel
from bankgate.errors import CertificateExpired
from bankgate.services.finance_config import SyncConfig
from bankgate.services.intake import parse_order
from bankgate.services.payments import create_orders
from bankgate.services.sync import sync_account
from bankgate.services.worker import Worker
from bankgate.settings import Settings
from tests.services.finance_world import *  # noqa: F403  (the fixtures)

YESTERDAY = datetime.now(UTC) - timedelta(days=1)


@pytest.fixture
def expired_icbc(store_url: str, sandbox: Any, world: Any, tmp_path: Path) -> Iterator[App]:
    """A gateway whose client certificate for icbc expired yesterday."""
    from tests.e2e.harness import gateway_config

    cert, key = issue_certificate(sandbox.pki, "gateway-expired", usage=Usage.CLIENT,
                                  not_before=YESTERDAY - timedelta(days=365),
                                  not_after=YESTERDAY)
    config = gateway_config(sandbox, world)
    config["banks"]["icbc"].update(client_cert=str(cert), client_key=str(key))
    app = build_app(Settings(db_url=store_url), config)
    yield app
    app.close()


def _icbc_order(app: App, payees: list[dict[str, Any]]) -> str:
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    payee = next(p for p in payees if p["bank"] == "icbc" and not p.get("rigged"))
    draft = parse_order({"debtor_account": "icbc-cny", "payee_name": payee["name"],
                         "payee_account": payee["account"], "payee_bank": "icbc",
                         "amount": "88.00", "currency": "CNY"}, where="test",
                        accounts=accounts, today=app.now().date())
    [order] = create_orders(uow=app.uow, drafts=[draft], actor="test", now=app.now,
                            source="alerts")
    return order.id


def test_i10_a_dispatch_with_an_expired_certificate_sends_nothing_and_raises_a_critical_alert(
        expired_icbc: App, sandbox: Any, payees: list[dict[str, Any]]) -> None:
    app = expired_icbc
    order_id = _icbc_order(app, payees)
    worker = Worker(app.job_context(), concurrency=1)
    try:
        for _ in range(4):
            worker.run_once()
    finally:
        worker.close()
    with app.uow() as unit:
        order = unit.orders.get(order_id)
        [alert] = unit.alerts.find()
        dispatch = [j for j in unit.jobs.list(limit=100) if j["kind"] == "dispatch"]
        batch = unit.batches.get(order.batch_id)
    assert order.status is Status.SUBMITTED and batch.state.value == "ready"  # not unknown
    assert not sandbox.ledger.debit_bookings()  # nothing reached the bank
    assert (alert.kind, alert.level) == ("certificate.expired", AlertLevel.CRITICAL)
    assert alert.subject == "certificate icbc client certificate gateway-expired.pem"
    assert alert.occurrence == YESTERDAY.date().isoformat()
    assert alert.message.startswith("payments to icbc stopped (batch")
    assert "expired on" in alert.message and "renew it" in alert.message
    assert dispatch[0]["state"] == "queued" and "expired" in dispatch[0]["last_error"]
    assert (dispatch[0]["run_after"] - datetime.now(UTC)).total_seconds() > 3000


def test_i10_a_sync_with_an_expired_certificate_raises_one_alert_for_all_its_accounts(
        expired_icbc: App) -> None:
    app = expired_icbc
    config = SyncConfig(lookback_days=2)
    for _ in range(2):
        report = sync_account(uow=app.uow, channels=app.channels, account_id="icbc-cny",
                              now=app.now, config=config)
        assert report.days_failed and not report.days_fetched
    with app.uow() as unit:
        [alert] = unit.alerts.find()
    assert (alert.kind, alert.level) == ("certificate.expired", AlertLevel.CRITICAL)
    assert alert.message.startswith("statement syncs of icbc stopped")
    assert alert.seen_count >= 4  # every day refused refreshed the same alert


def test_i10_the_channel_refuses_before_sending(expired_icbc: App, sandbox: Any) -> None:
    with expired_icbc.uow() as unit:
        accounts = [a for a in unit.accounts.all() if a.bank == "icbc"]
    with pytest.raises(CertificateExpired, match="not sent: our icbc client certificate "
                                                 r"gateway-expired\.pem expired on"):
        expired_icbc.channels["icbc"].balances(accounts)

