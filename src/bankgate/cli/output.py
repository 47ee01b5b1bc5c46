"""Tables, progress and JSON for the command line (rich).

rich is imported when something is drawn, not when the command line is imported: ~40 ms
that `bankgate parse --json` and the other JSON verbs never need. `console` stands for
the one stdout Console and makes it on first use; `terminal()` is that Console itself.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from bankgate.services.cash import AccountCash

__all__ = ["cash_rows", "cash_table", "console", "print_json", "status_table", "terminal"]


@functools.cache
def terminal() -> Console:
    """The Console on stdout, made once."""
    from rich.console import Console

    return Console(stderr=False, highlight=False)


class _Terminal:
    """`terminal()` under the name the verbs use: `console.print(table)`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(terminal(), name)


console = _Terminal()


def print_json(document: Any) -> None:
    """One JSON object on stdout."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def cash_rows(cash: Sequence[AccountCash]) -> list[dict[str, Any]]:
    """Balances as plain rows (amounts as decimal strings, numbers masked)."""
    return [{"bank": c.account.bank, "account_id": c.account.id,
             "account": str(c.account.number), "currency": c.account.currency.code,
             "ledger": f"{c.ledger.amount:f}" if c.ledger else None,
             "available": f"{c.available.amount:f}" if c.available else None,
             "as_of": c.as_of.isoformat() if c.as_of else None, "error": c.error}
            for c in cash]


def cash_table(title: str, cash: Sequence[AccountCash],
               totals: Mapping[str, Any] | None = None) -> Table:
    """Balances per bank as a table, with totals per currency."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name, justify in (("bank 银行", "left"), ("account 账户", "left"), ("ccy", "left"),
                          ("ledger 账面余额", "right"), ("available 可用余额", "right"),
                          ("as of (UTC)", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in cash_rows(cash):
        table.add_row(row["bank"], row["account"], row["currency"],
                      _amount(row["ledger"]) if not row["error"] else f"[red]{row['error']}",
                      _amount(row["available"]), (row["as_of"] or "")[11:19])
    for code, money in (totals or {}).items():
        table.add_row("[b]total 合计", "", code, f"[b]{_amount(f'{money.amount:f}')}", "", "")
    return table


def status_table(title: str, rows: Iterable[tuple[str, int, str]]) -> Table:
    """Outcome counts: status, how many, and why (for rejections)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("status 状态")
    table.add_column("orders 笔数", justify="right")
    table.add_column("reasons 原因")
    for status, count, reasons in rows:
        table.add_row(status, str(count), reasons)
    return table


def _amount(text: str | None) -> str:
    if text is None:
        return ""
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"
