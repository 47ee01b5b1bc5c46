"""The demo's last act: sync statements, reconcile, show cash and reconciliation, draw charts."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bankgate.bootstrap import App
from bankgate.cli.output import console
from bankgate.cli.recon import summary_tables
from bankgate.cli.reports import report_table, write_all

__all__ = ["finance_story"]


def finance_story(app: App, folder: Path, quiet: bool) -> dict[str, Any]:
    """Steps 6–7 of the demo; returns what the JSON story shows of them."""
    from bankgate.services.ledger import prepare_export
    from bankgate.services.recon import reconcile
    from bankgate.services.recon_summary import recon_summary, summary_document
    from bankgate.services.reports import cash_position
    from bankgate.services.sync import sync_accounts

    today = datetime.now(app.finance.sync.zone).date()
    _expected_receipts(app, today)
    synced = sync_accounts(uow=app.uow, channels=app.channels, now=app.now,
                           config=app.finance.sync, through=today)
    run = reconcile(uow=app.uow, config=app.finance.recon, now=app.now)
    summary = recon_summary(uow=app.uow, now=app.now, zone=app.finance.sync.zone)
    cash = cash_position(uow=app.uow, settings=app.finance.reports, zone=app.finance.sync.zone,
                         now=app.now)
    files = write_all(app, folder / "reports")
    vouchers = len(prepare_export(uow=app.uow, fmt="csv").voucher_ids)
    if not quiet:
        console.print(report_table(cash))
        for table in summary_tables(summary, limit=8):
            console.print(table)
        console.print(f"\n10. {run.confirmed} matches booked as {vouchers} vouchers 凭证; "
                      f"reports and charts in {folder / 'reports'}")
    document = summary_document(summary)
    return {"synced_entries": sum(r.new_entries for r in synced), "matched": run.confirmed,
            "suggested": run.suggested, "match_rate_pct": document["match_rate_pct"],
            "aging": document["aging"], "books": document["books"], "vouchers": vouchers,
            "cash_total": f"{cash.extra['total']:f}", "files": [str(p) for p in files]}


def _expected_receipts(app: App, today: date) -> None:
    """What the ERP expects customers to pay in the coming days (for the forecast)."""
    from bankgate.services.recon_items import import_receipts

    rows = [{"id": f"demo-ar-{n}", "account": account, "customer": customer,
             "amount": amount, "due_date": str(today + timedelta(days=days)),
             "invoices": [f"INV-AR-{n:04d}"]}
            for n, (account, customer, amount, days) in enumerate((
                ("icbc-cny", "北京恒信信息技术有限公司", "380000.00", 1),
                ("cmb-cny", "深圳瑞丰电子有限公司", "1250000.00", 3),
                ("boc-cny", "Pacific Rim Logistics Pte. Ltd.", "640000.00", 5)), 1)]
    import_receipts(uow=app.uow, content=json.dumps(rows).encode(), origin="demo-ar.json",
                    now=app.now)
