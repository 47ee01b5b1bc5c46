"""Helpers for the sync, reconciliation, ledger and report tests: real payments through the
sandbox banks, and camt files written the way a bank would send them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest

from bankgate.bootstrap import App, build_app
from bankgate.domain import TERMINAL, PaymentOrder
from bankgate.services.intake import parse_order
from bankgate.services.payments import create_orders
from bankgate.services.worker import Worker
from bankgate.settings import Settings

#: What `from tests.services.finance_world import *` brings: the fixtures.
__all__ = ["file_gateway", "gateway", "payees", "sandbox", "world"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def bank_today() -> date:
    """Today as the sandbox banks book it."""
    return datetime.now(SHANGHAI).date()


def pay(app: App, payees: Sequence[Mapping[str, Any]], *, debtor: str = "icbc-cny",
        timeout_s: float = 20.0) -> list[PaymentOrder]:
    """Create one order per payee from `debtor`, and run the worker until each is final."""
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    drafts = [parse_order({"debtor_account": debtor, "payee_name": p["name"],
                           "payee_account": p["account"], "payee_bank": p["bank"],
                           "amount": str(p["amount"]), "currency": "CNY",
                           "flow": p.get("flow", "supplier"),
                           "remittance": p.get("remittance") or f"T-{i}"},
                          where=f"payee {i}", accounts=accounts, today=app.now().date())
              for i, p in enumerate(payees)]
    orders = create_orders(uow=app.uow, drafts=drafts, actor="user:test", now=app.now,
                           source="test")
    ids = [o.id for o in orders]
    worker = Worker(app.job_context(), concurrency=2, lease_s=10)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with app.uow() as unit:
                final = unit.orders.get_many(ids)
            if all(o.status in TERMINAL for o in final):
                return final
            if not worker.run_once():
                time.sleep(0.05)
    finally:
        worker.close()
    raise AssertionError("payments did not reach a final status in time")


def sound_payees(payees: Iterable[Mapping[str, Any]], count: int,
                 bank: str | None = "icbc") -> list[Mapping[str, Any]]:
    """Payees that are not rigged to fail (at one bank, if given)."""
    chosen = [p for p in payees if not p["rigged"] and (bank is None or p["bank"] == bank)]
    return chosen[:count]


@dataclass(frozen=True)
class CamtEntry:
    """One entry of a generated camt file."""

    amount: Decimal  # signed
    status: str = "BOOK"
    servicer_ref: str | None = None
    end_to_end_id: str | None = None
    counterparty: str | None = None
    remittance: str | None = None


def camt_file(*, message: str, account: str, currency: str, on: date,
              opening: Decimal, closing: Decimal, entries: Sequence[CamtEntry],
              statement_id: str = "ST-1") -> bytes:
    """A camt.053.001.02 (end of day) or camt.052.001.02 (intraday) file."""
    kind, wrap = ("053", "Stmt") if message == "053" else ("052", "Rpt")
    root = "BkToCstmrStmt" if kind == "053" else "BkToCstmrAcctRpt"
    xml_entries = "".join(_entry(e, currency, on) for e in entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.02"><{root}>
<GrpHdr><MsgId>M-{statement_id}</MsgId><CreDtTm>{on}T18:00:00</CreDtTm></GrpHdr>
<{wrap}><Id>{statement_id}</Id><CreDtTm>{on}T18:00:00</CreDtTm>
<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>{currency}</Ccy></Acct>
{_balance("OPBD", opening, currency, on)}{_balance("CLBD", closing, currency, on)}
{xml_entries}</{wrap}></{root}></Document>""".encode()


def _balance(code: str, amount: Decimal, currency: str, on: date) -> str:
    side = "DBIT" if amount < 0 else "CRDT"
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f"<Amt Ccy=\"{currency}\">{abs(amount):.2f}</Amt><CdtDbtInd>{side}</CdtDbtInd>"
            f"<Dt><Dt>{on}</Dt></Dt></Bal>")


def _entry(e: CamtEntry, currency: str, on: date) -> str:
    side = "DBIT" if e.amount < 0 else "CRDT"
    ref = f"<AcctSvcrRef>{e.servicer_ref}</AcctSvcrRef>" if e.servicer_ref else ""
    e2e = (f"<Refs><EndToEndId>{e.end_to_end_id}</EndToEndId></Refs>"
           if e.end_to_end_id else "")
    role = "Dbtr" if e.amount > 0 else "Cdtr"  # the other party: who paid us, or whom we paid
    party = (f"<RltdPties><{role}><Nm>{escape(e.counterparty)}</Nm></{role}></RltdPties>"
             if e.counterparty else "")
    text = f"<RmtInf><Ustrd>{escape(e.remittance)}</Ustrd></RmtInf>" if e.remittance else ""
    return (f"<Ntry><Amt Ccy=\"{currency}\">{abs(e.amount):.2f}</Amt>"
            f"<CdtDbtInd>{side}</CdtDbtInd><Sts>{e.status}</Sts>"
            f"<BookgDt><Dt>{on}</Dt></BookgDt><ValDt><Dt>{on}</Dt></ValDt>{ref}"
            f"<NtryDtls><TxDtls>{e2e}{party}{text}</TxDtls></NtryDtls></Ntry>")


# -- fixtures (imported by the test modules that use them) -------------------------------------

@pytest.fixture
def world() -> Any:
    from bankgate.sandbox.demo_world import demo_world

    return demo_world(seed=7)


@pytest.fixture
def payees(world: Any) -> list[dict[str, Any]]:
    from bankgate.sandbox.demo_world import demo_payees

    return demo_payees(world)


@pytest.fixture
def sandbox(world: Any, tmp_path: Path) -> Iterator[Any]:
    from bankgate.sandbox.run import start_sandbox

    with start_sandbox(world, state_dir=tmp_path / "sandbox", settle_delay_s=0.05) as running:
        yield running


@pytest.fixture
def gateway(store_url: str, sandbox: Any, world: Any) -> Iterator[App]:
    from tests.e2e.harness import gateway_config

    config = {**gateway_config(sandbox, world), "sync": {"lookback_days": 3}}
    app = build_app(Settings(db_url=store_url), config)
    yield app
    app.close()


@pytest.fixture
def file_gateway(store_url: str, sandbox: Any, world: Any) -> Iterator[App]:
    """As `gateway`, with boc reached over the sandbox's SFTP bank, as in the demo."""
    from bankgate.cli.demo_files import use_file_channel
    from tests.e2e.harness import gateway_config

    config = {**use_file_channel(gateway_config(sandbox, world), sandbox),
              "sync": {"lookback_days": 3}}
    app = build_app(Settings(db_url=store_url), config)
    yield app
    app.close()
