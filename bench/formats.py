"""Statement readers side by side: entries per second and peak memory (issue 4, bench/formats).

Generates camt.053.001.02 and MT940 files of N entries, then runs every reader in its own
process (fresh memory; peak RSS measured with getrusage): bankgate's readers, a bare lxml
iterparse walk that pulls five fields per entry (the floor), and the peer libraries, which
live in a separate virtualenv (`.venv-bench`) so they never touch the project's own.

    .venv/bin/python bench/formats.py --entries 10000,100000
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[1]
PEERS_PY = ROOT / ".venv-bench" / "bin" / "python"


def generate_camt053(entries: int, path: Path) -> None:
    """A camt.053.001.02 statement with `entries` entries, each with one TxDtls."""
    with path.open("w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='UTF-8'?>\n<Document xmlns='urn:iso:std:iso:"
                  "20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt><GrpHdr><MsgId>BENCH</MsgId>"
                  "<CreDtTm>2026-11-23T08:00:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>"
                  "<CreDtTm>2026-11-23T08:00:00</CreDtTm><Acct><Id><IBAN>DE89370400440532013000"
                  "</IBAN></Id><Ccy>EUR</Ccy></Acct>")
        total = 0
        for n in range(entries):
            total += 100 + n % 1000
        for code, amount in (("OPBD", 0), ("CLBD", total)):
            out.write(f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
                      f"<Amt Ccy='EUR'>{amount // 100}.{amount % 100:02d}</Amt>"
                      "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-23</Dt></Dt></Bal>")
        for n in range(entries):
            cents = 100 + n % 1000
            out.write(
                f"<Ntry><NtryRef>{n}</NtryRef><Amt Ccy='EUR'>{cents // 100}.{cents % 100:02d}"
                "</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-23</Dt>"
                "</BookgDt><ValDt><Dt>2026-11-23</Dt></ValDt>"
                f"<AcctSvcrRef>ASR{n:012d}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly>"
                "<Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls>"
                f"<TxDtls><Refs><EndToEndId>E2E{n:012d}</EndToEndId><TxId>TX{n:010d}</TxId>"
                f"</Refs><AmtDtls><TxAmt><Amt Ccy='EUR'>{cents // 100}.{cents % 100:02d}</Amt>"
                f"</TxAmt></AmtDtls><RltdPties><Dbtr><Nm>Kunde {n} GmbH</Nm></Dbtr><DbtrAcct>"
                "<Id><IBAN>NL91ABNA0417164300</IBAN></Id></DbtrAcct></RltdPties><RmtInf>"
                f"<Ustrd>Rechnung {n}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>")
        out.write("</Stmt></BkToCstmrStmt></Document>\n")


def generate_mt940(entries: int, path: Path, *, distinct: bool = False) -> None:
    """An MT940 statement with `entries` lines, each with a structured :86:.

    The amounts repeat every 1,000 lines, unless `distinct`: then no two are the same (a
    reader that keeps amounts it has seen gains nothing from that).
    """
    def cents_of(n: int) -> int:
        return 100 + (n * 7919 % 10_000_000 if distinct else n % 1000)

    total = sum(cents_of(n) for n in range(entries))
    with path.open("w", encoding="latin-1") as out:
        out.write(":20:BENCH\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261123EUR0,00\n")
        for n in range(entries):
            cents = cents_of(n)
            out.write(f":61:2611231123C{cents // 100},{cents % 100:02d}NTRFE2E{n:09d}//B{n:012d}"
                      f"\n:86:166?00GUTSCHRIFT?20EREF+E2E{n:09d}?21SVWZ+Rechnung {n}?32Kunde"
                      f" {n} GmbH?31NL91ABNA0417164300\n")
        out.write(f":62F:C261123EUR{total // 100},{total % 100:02d}\n-\n")


_PAYEES = ("Müller Straße GmbH", "Zoë Łukasiewicz & Søn", "Kunde {n} AG", "Société Générale {n}")
_IBANS = ("NL91ABNA0417164300", "FR1420041010050500013M02606", "DE44500105175407324931")


def generate_payments(count: int, path: Path) -> None:
    """`count` EUR payments (JSON lines: name, IBAN, cents, end-to-end id, remittance)."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            out.write(json.dumps({"name": _PAYEES[n % 4].format(n=n), "iban": _IBANS[n % 3],
                                  "cents": 100 + n % 99_900, "e2e": f"E2E-{n:09d}",
                                  "remittance": f"Rechnung {n} vom 23.11."},
                                 ensure_ascii=False) + "\n")


def _payments(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def run_ours_pain001(path: Path) -> int:
    """Payments → domain orders → pain.001.001.03 bytes, validated against the XSD."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from bankgate.domain import (
        AccountId,
        AccountNumber,
        Batch,
        BatchKey,
        BatchState,
        CompanyAccount,
        FlowType,
        Money,
        Payee,
        bank_id,
        currency,
        instruction_id,
        new_batch_id,
        new_order_id,
        new_payment_order,
    )
    from bankgate.formats.iso20022.pain001 import write_pain001

    now, day, eur = datetime(2026, 11, 23, tzinfo=UTC), date(2026, 11, 24), currency("EUR")
    debtor = CompanyAccount(id=AccountId("bench"), bank=bank_id("bench"),
                            number=AccountNumber.parse("DE89370400440532013000"), currency=eur,
                            name="Bench GmbH")
    orders = [new_payment_order(
        id=new_order_id(), instruction_id=instruction_id(p["e2e"]), flow=FlowType.SUPPLIER,
        debtor=debtor, payee=Payee(name=p["name"], account=AccountNumber.parse(p["iban"])),
        amount=Money.from_minor(p["cents"], eur), execution_date=day,
        remittance=p["remittance"], at=now) for p in _payments(path)]
    total = Money(sum((o.amount.amount for o in orders), Decimal(0)), eur)
    batch = Batch(id=new_batch_id(), key=BatchKey(debtor.id, debtor.bank, eur, day),
                  order_ids=tuple(o.id for o in orders),
                  instruction_ids=tuple(o.instruction_id for o in orders), total=total,
                  state=BatchState.READY, version=1, created_at=now)
    started, cpu, setup = time.perf_counter(), _cpu_s(), _peak_mb()  # orders exist before
    data = write_pain001(batch, debtor, orders, version="03", created_at=now)
    return Timed(data.count(b"<CdtTrfTxInf>"), time.perf_counter() - started, _cpu_s() - cpu,
                 round(setup, 1))


@dataclass(frozen=True)
class Timed:
    """A runner's count with the time of the part that is compared (not its set-up)."""

    count: int
    seconds: float
    cpu_s: float
    setup_peak_mb: float | None = None  # peak RSS when the compared part started


def _peak_mb() -> float:
    """This process's peak RSS: VmHWM (Linux), not ru_maxrss, which keeps the high-water
    mark of the parent that forked it across exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours_camt(path: Path) -> int:
    from bankgate.formats.iso20022.camt import read_camt

    with path.open("rb") as stream:
        return sum(len(s.entries) for s in read_camt(stream, path.name))


def run_ours_camt_stream(path: Path) -> int:
    """The streaming reader (what `bankgate import` uses): events, never a whole statement."""
    from bankgate.domain import StatementEntry
    from bankgate.formats.iso20022.camt import stream_camt

    with path.open("rb") as stream:
        return sum(isinstance(e, StatementEntry) for e in stream_camt(stream, path.name))


_ARCHIVE_FIRST = """
import sys
from pathlib import Path
from bankgate.bootstrap import build_app
from bankgate.settings import Settings
app = build_app(Settings(db_url=sys.argv[1]))
with app.uow() as unit:
    unit.statements.archive_raw_file(Path(sys.argv[2]), name="big", origin="bench", at=app.now())
    unit.commit()
app.close()
"""


def run_ours_import_sqlite(path: Path, *, archived_before: bool = False) -> Timed:
    """`bankgate import` of the file into a fresh SQLite store (one transaction)."""
    from bankgate.bootstrap import build_app
    from bankgate.services.statements import import_statement_path
    from bankgate.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bankgate-import-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        account = {"id": "bench-eur", "bank": "bench", "number": "DE89370400440532013000",
                   "currency": "EUR", "name": "Bench GmbH"}
        app = build_app(Settings(db_url=url), {"accounts": [account]})
        if archived_before:  # in another process: its memory is not this one's peak
            subprocess.run([sys.executable, "-c", _ARCHIVE_FIRST, url, str(path)], check=True)
        started, cpu = time.perf_counter(), _cpu_s()
        try:
            done = import_statement_path(uow=app.uow, path=path, now=app.now)
        finally:
            app.close()
        seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu
    assert not done.issues, done.issues
    return Timed(done.new_entries, seconds, cpu)


def run_ours_mt940(path: Path) -> int:
    from bankgate.formats.swift.mt940 import read_mt940

    with path.open("rb") as stream:
        return sum(len(s.entries) for s in read_mt940(stream, path.name))


def run_bare_lxml(path: Path) -> int:
    """The floor: iterparse, five fields per entry, elements cleared as we go."""
    from lxml import etree

    ns = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}"
    count = 0
    for _, el in etree.iterparse(str(path), events=("end",), tag=f"{ns}Ntry"):
        fields = (el.findtext(f"{ns}Amt"), el.findtext(f"{ns}CdtDbtInd"),
                  el.findtext(f"{ns}BookgDt/{ns}Dt"), el.findtext(f"{ns}AcctSvcrRef"),
                  el.findtext(f".//{ns}EndToEndId"))
        count += fields[0] is not None
        el.clear()
        while el.getprevious() is not None:
            del el.getparent()[0]
    return count


RUNNERS = {"bankgate camt": run_ours_camt, "bankgate camt stream": run_ours_camt_stream,
           "bankgate import (SQLite)": run_ours_import_sqlite,
           "bankgate import (SQLite, raw file archived before)":
               lambda path: run_ours_import_sqlite(path, archived_before=True),
           "bankgate mt940": run_ours_mt940, "bankgate pain.001 write+validate": run_ours_pain001,
           "bare lxml iterparse (5 fields)": run_bare_lxml}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_IMPORTS: Final = {
    "bankgate camt": ("bankgate.formats.iso20022.camt",),
    "bankgate camt stream": ("bankgate.formats.iso20022.camt", "bankgate.domain"),
    "bankgate import (SQLite)": ("bankgate.bootstrap", "bankgate.services.statements"),
    "bankgate mt940": ("bankgate.formats.swift.mt940",),
    "bankgate pain.001 write+validate": ("bankgate.formats.iso20022.pain001",),
    "bare lxml iterparse (5 fields)": ("lxml.etree",),
    "camt053 (PyPI)": ("camt053",), "bankstatementparser camt": (
        "bankstatementparser.camt_parser",), "pycamt": ("pycamt.parser",),
    "mt-940 (WoLpH)": ("mt940",), "bankstatementparser mt940": (
        "bankstatementparser.parsers.mt940",), "sepaxml": ("sepaxml", "xmlschema"),
}


def measure(name: str, path: Path) -> dict[str, Any]:
    """Run one reader in this process; entries, seconds (wall and CPU) and peak memory.

    CPU seconds are this process's own: on a shared machine they vary far less than wall
    time, so the ratios are computed from them.
    """
    for module in _IMPORTS.get(name, ()):  # imports are not reading: done before the clock
        importlib.import_module(module)
    before = _peak_mb()
    started, cpu = time.perf_counter(), _cpu_s()
    done = RUNNERS[name](path) if name in RUNNERS else _peer(name, path)
    seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu
    if isinstance(done, tuple):  # a peer's Timed, as a plain tuple across the venvs
        done = Timed(*done)
    entries = done.count if isinstance(done, Timed) else done
    setup = done.setup_peak_mb if isinstance(done, Timed) else None
    if isinstance(done, Timed):
        seconds, cpu = done.seconds, done.cpu_s
    return {"reader": name, "entries": entries, "seconds": round(seconds, 3),
            "cpu_s": round(cpu, 3), "entries_per_s": round(entries / seconds) if seconds else None,
            "entries_per_cpu_s": round(entries / cpu) if cpu else None,
            "peak_rss_mb": round(_peak_mb(), 1), "rss_before_mb": round(before, 1),
            **({"setup_peak_mb": setup} if setup is not None else {})}


def _peer(name: str, path: Path) -> int:
    from peers import PEERS  # bench/peers.py, run with the peers' interpreter

    return PEERS[name](path)


def in_subprocess(name: str, path: Path, python: Path) -> dict[str, Any]:
    """`measure` in a fresh process (so peak memory is this reader's own)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT / 'src'}"}
    done = subprocess.run([str(python), __file__, "--one", name, str(path)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"reader": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return dict(json.loads(done.stdout))


def _plan(size: int, tmp: Path, distinct: bool) -> list[tuple[str, Path, Path]]:
    """Every reader and writer to run at one size, on files made for it."""
    from peers import CAMT_PEERS, MT940_PEERS, PAIN001_PEERS

    camt, mt940 = tmp / f"camt053-{size}.xml", tmp / f"mt940-{size}.sta"
    payments = tmp / f"payments-{size}.jsonl"
    generate_camt053(size, camt)
    generate_mt940(size, mt940, distinct=distinct)
    generate_payments(size, payments)
    ours = Path(sys.executable)
    plan = [("bankgate camt", camt, ours), ("bankgate camt stream", camt, ours),
            ("bare lxml iterparse (5 fields)", camt, ours), ("bankgate mt940", mt940, ours),
            ("bankgate pain.001 write+validate", payments, ours)]
    if PEERS_PY.exists():  # pycamt reads ~100 entries/s: only at the smallest size
        plan += [(p, camt, PEERS_PY) for p in CAMT_PEERS if p != "pycamt" or size <= 10_000]
        plan += [(p, mt940, PEERS_PY) for p in MT940_PEERS]
        plan += [(p, payments, PEERS_PY) for p in PAIN001_PEERS]
    return plan


def _rounds(plan: list[tuple[str, Path, Path]], runs: int) -> list[dict[str, Any]]:
    """Per reader, its run with the most entries per CPU-second of `runs`, each in a fresh
    process; the runs go round the readers in turn, so a slow spell of a shared machine
    falls on all of them rather than on one."""
    tries: list[list[dict[str, Any]]] = [[] for _ in plan]
    for _ in range(runs):
        for done, (name, path, python) in zip(tries, plan, strict=True):
            done.append(in_subprocess(name, path, python))
    best = []
    for done in tries:
        good = [t for t in done if "error" not in t]
        best.append(max(good, key=lambda t: t["entries_per_cpu_s"] or 0) if good else done[0])
    return best


def _table(results: list[dict[str, Any]]) -> str:
    """The markdown table of docs/benchmarks.md: per size and kind, ours against each peer."""
    lines = ["| size | reader | entries/s (wall) | entries/CPU-s | peak RSS MB | × bare walk "
             "| ours ÷ this |", "|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['size']:,} | {r['reader']} | failed: {r['error']} | | | | |")
            continue
        same = [o for o in results if o["size"] == r["size"] and "error" not in o]
        walk = next((o for o in same if o["reader"].startswith("bare")), None)
        kind = _kind(r["reader"])
        ours = next((o for o in same if o["reader"] == _OURS[kind]), None)
        ratio_walk = (f"{r['entries_per_cpu_s'] / walk['entries_per_cpu_s']:.2f}"
                      if walk and kind == "camt" else "")
        ratio_ours = (f"{ours['entries_per_cpu_s'] / r['entries_per_cpu_s']:.1f}"
                      if ours and not r["reader"].startswith(("bankgate", "bare")) else "")
        lines.append(f"| {r['size']:,} | {r['reader']} | {r['entries_per_s']:,} | "
                     f"{r['entries_per_cpu_s']:,} | {r['peak_rss_mb']:.0f} | {ratio_walk} | "
                     f"{ratio_ours} |")
    return "\n".join(lines)


_OURS: Final = {"camt": "bankgate camt stream", "mt940": "bankgate mt940",
                "pain001": "bankgate pain.001 write+validate"}


def _kind(reader: str) -> str:
    if "pain" in reader or reader == "sepaxml":
        return "pain001"
    return "mt940" if "mt" in reader.replace("camt", "") else "camt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="10000,100000")
    parser.add_argument("--runs", type=int, default=1,
                        help="best of N runs (by CPU time), taken round the readers in turn")
    parser.add_argument("--readers", default="",
                        help="only readers whose names contain one of these (comma-separated)")
    parser.add_argument("--large", type=int, default=0,
                        help="also stream and import one camt.053 of this many entries")
    parser.add_argument("--distinct-amounts", action="store_true",
                        help="MT940 files whose amounts never repeat (else every 1,000 lines)")
    parser.add_argument("--one", nargs=2, metavar=("READER", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], Path(args.one[1]))))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bankgate-fmt-") as tmp:
        for size in (int(s) for s in args.entries.split(",")):
            plan = [p for p in _plan(size, Path(tmp), args.distinct_amounts)
                    if not args.readers or any(w in p[0] for w in args.readers.split(","))]
            for (_name, path, _), best in zip(plan, _rounds(plan, args.runs), strict=True):
                result = {"size": size, "file_mb": round(path.stat().st_size / 2**20, 1),
                          **best}
                results.append(result)
                print(json.dumps(result, ensure_ascii=False), flush=True)
        if args.large:
            big = Path(tmp) / f"camt053-{args.large}.xml"
            generate_camt053(args.large, big)
            for name in ("bankgate camt stream", "bankgate import (SQLite)",
                         "bankgate import (SQLite, raw file archived before)"):
                result = {"size": args.large, "file_mb": round(big.stat().st_size / 2**20, 1),
                          **in_subprocess(name, big, Path(sys.executable))}
                results.append(result)
                print(json.dumps(result, ensure_ascii=False), flush=True)
    print(_table(results))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "formats.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
