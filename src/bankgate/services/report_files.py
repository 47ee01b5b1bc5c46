"""Reports as files: CSV (one per report), Excel (one sheet per report), charts (PNG + SVG).

Charts use matplotlib's Agg backend (no display). Chinese labels need a font with CJK glyphs
(fonts-wqy-microhei or fonts-noto-cjk, installed by scripts/ensure-services.sh); without one
the charts fall back to English labels rather than print empty boxes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bankgate.services.ledger import neutralise
from bankgate.services.reports import Cell, Report

__all__ = ["cjk_font", "write_charts", "write_csv", "write_xlsx"]

_CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC",
                 "Noto Sans SC", "Source Han Sans SC", "SimHei", "Microsoft YaHei")


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return f"{cell:f}"
    return neutralise(str(cell)) if isinstance(cell, str) else str(cell)


def write_csv(report: Report, directory: Path) -> Path:
    """`<name>.csv`, UTF-8 with BOM (Excel opens it as UTF-8), formula cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(report.columns)
    writer.writerows([_text(c) for c in row] for row in report.rows)
    path = directory / f"{report.name}.csv"
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
    return path


def write_xlsx(reports: Sequence[Report], path: Path) -> Path:
    """One sheet per report: a bold header, numbers as numbers, text never a formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for report in reports:
        sheet = book.create_sheet(report.name[:31])
        sheet.append([report.title])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append(list(report.columns))
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in report.rows:
            sheet.append([_xlsx(c) for c in row])
        for note in report.notes:
            sheet.append([neutralise(note)])
        for index, name in enumerate(report.columns, 1):
            sheet.column_dimensions[sheet.cell(2, index).column_letter].width = max(
                12, min(40, len(name) + 6))
        sheet.freeze_panes = "A3"
    book.save(path)
    return path


def _xlsx(cell: Cell) -> Any:
    if isinstance(cell, str):
        return neutralise(cell)
    return cell


def cjk_font() -> str | None:
    """The first installed font family with CJK glyphs, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FAMILIES if name in installed), None)


def _label(chinese: str, english: str, cjk: bool) -> str:
    return f"{english} {chinese}" if cjk else english


def write_charts(reports: Sequence[Report], directory: Path) -> list[Path]:
    """PNG and SVG charts a treasurer can put on a slide; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = cjk_font()
    plt.rcParams.update({"font.sans-serif": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
                         "font.family": "sans-serif", "axes.unicode_minus": False,
                         "svg.fonttype": "none", "figure.dpi": 110})
    by_name = {r.name: r for r in reports}
    written: list[Path] = []
    for name, draw in (("cash_position", _cash), ("forecast", _forecast),
                       ("balance_history", _history), ("payment_status", _payments),
                       ("reconciliation", _recon)):
        if name in by_name:
            figure = draw(plt, by_name[name], font is not None)
            for suffix in ("png", "svg"):
                path = directory / f"{name}.{suffix}"
                figure.savefig(path, bbox_inches="tight")
                written.append(path)
            plt.close(figure)
    return written


def _money_axis(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))  # display only


def _cash(plt: Any, report: Report, cjk: bool) -> Any:
    rows = [r for r in report.rows if r[2]]
    labels = [f"{r[0]} · {r[2]}\n({_as_of(r[6], cjk)})" for r in rows]
    values = [float(r[5] or 0) for r in rows]  # drawing only: the figures stay Decimal
    figure, axes = plt.subplots(figsize=(9, 0.9 + 0.8 * len(rows)))
    bars = axes.barh(labels, values, color="#2f6f9f")
    axes.bar_label(bars, labels=[f"{v:,.2f}" for v in values], padding=4, fontsize=9)
    axes.invert_yaxis()
    total = report.extra["total"]
    axes.set_title(_label("资金头寸", "Cash position", cjk)
                   + f" — total {total:,.2f} {report.extra['currency']}", loc="left")
    axes.set_xlabel(report.extra["currency"])
    _money_axis(axes.xaxis)
    axes.margins(x=0.25)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _as_of(text: Cell, cjk: bool) -> str:
    if not text:
        return _label("未取得", "no figure", cjk)
    return ("as of " if not cjk else "截至 ") + str(text).replace("T", " ")[:16] + " UTC"


def _forecast(plt: Any, report: Report, cjk: bool) -> Any:
    days = [r[0] for r in report.rows]
    figure, axes = plt.subplots(figsize=(9, 4.5))
    axes.bar(days, [float(r[2]) for r in report.rows], color="#3c9d5d", width=0.6,
             label=_label("预计收款", "expected receipts", cjk))
    axes.bar(days, [-float(r[3]) for r in report.rows], color="#c0504d", width=0.6,
             label=_label("待付款", "unpaid orders", cjk))
    axes.plot(days, [float(r[4]) for r in report.rows], color="#1f3b57", marker="o",
              label=_label("期末余额", "closing cash", cjk))
    axes.axhline(0, color="#888", linewidth=0.8)
    axes.set_title(_label("资金预测", "Cash forecast", cjk) + f" ({report.extra['currency']})",
                   loc="left")
    _money_axis(axes.yaxis)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False)
    figure.autofmt_xdate()
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _history(plt: Any, report: Report, cjk: bool) -> Any:
    figure, axes = plt.subplots(figsize=(9, 4.5))
    series: dict[str, list[tuple[date, float]]] = {}
    for day, account, code, amount in report.rows:
        assert isinstance(day, date) and isinstance(amount, Decimal)
        series.setdefault(f"{account} ({code})", []).append((day, float(amount)))
    for name, points in series.items():
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    axes.set_title(_label("每日余额", "Daily closing balance", cjk), loc="left")
    _money_axis(axes.yaxis)
    if series:
        axes.legend(fontsize=9)
    figure.autofmt_xdate()
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _payments(plt: Any, report: Report, cjk: bool) -> Any:
    figure, axes = plt.subplots(figsize=(9, 4))
    labels = [f"{r[0]} ({r[1]})" for r in report.rows]
    bars = axes.bar(labels, [int(r[2] or 0) for r in report.rows], color="#6b5b95")
    axes.bar_label(bars, labels=[f"{r[2]}\n{r[3]:,.2f}" for r in report.rows], fontsize=8)
    axes.set_title(_label("付款状态", "Payments by status", cjk), loc="left")
    axes.set_ylabel(_label("笔数", "orders", cjk))
    axes.margins(y=0.25)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _recon(plt: Any, report: Report, cjk: bool) -> Any:
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(7, 4))
    aging = report.extra["aging"]
    bars = axes.bar(list(aging), list(aging.values()), color="#d98c2b")
    axes.bar_label(bars)
    rate = report.extra["rate"]
    shown = f"{rate} %" if rate is not None else "n/a"
    axes.set_title(_label("对账", "Reconciliation", cjk) + f": {shown} "
                   + _label("已匹配", "matched", cjk), loc="left")
    axes.set_xlabel(_label("未达账项账龄", "exception age", cjk))
    axes.set_ylabel(_label("笔数", "exceptions", cjk))
    axes.set_ylim(0, max(1, *aging.values()) * 1.2)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    return figure
