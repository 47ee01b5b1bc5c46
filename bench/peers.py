"""The peer libraries, each asked to read the whole file and give every entry (bench only).

Run with the interpreter of `.venv-bench` (see formats.py); never imported by bankgate.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

TRYTON_MT940 = Path(sys.prefix) / "tryton-mt940"  # `pip install --target`: its module is
# also called mt940, like WoLpH's mt-940, so it cannot share site-packages with it


def camt053_lib(path: Path) -> int:
    """camt053 (PyPI): parse_document over the text; count entries of every statement."""
    import camt053

    document = camt053.parse_document(path.read_text(encoding="utf-8"))
    return sum(len(statement.entries) for statement in document.statements)


def bankstatementparser_camt(path: Path) -> int:
    """bankstatementparser: CamtParser(file).get_transactions() (a pandas DataFrame)."""
    from bankstatementparser.camt_parser import CamtParser

    return len(CamtParser(str(path)).get_transactions())


def pycamt_lib(path: Path) -> int:
    """pycamt: Camt053Parser.from_file(...).get_transactions()."""
    from pycamt.parser import Camt053Parser

    return len(Camt053Parser.from_file(str(path)).get_transactions())


def mt940_lib(path: Path) -> int:
    """mt-940 (WoLpH): mt940.parse(file) → transactions."""
    import mt940

    return len(list(mt940.parse(str(path))))


def bankstatementparser_mt940(path: Path) -> int:
    """bankstatementparser: Mt940Parser(file).parse() rows."""
    from bankstatementparser.parsers.mt940 import Mt940Parser

    return len(Mt940Parser(str(path)).parse())


def tryton_mt940(path: Path) -> int:
    """mt940 (Tryton / B2CK): MT940(file).statements[*].transactions."""
    sys.path.insert(0, str(TRYTON_MT940))
    from mt940 import MT940

    return sum(len(s.transactions) for s in MT940(str(path), encoding="latin-1").statements)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sepaxml_pain001(path: Path) -> tuple[int, float, float, float]:
    """sepaxml: SepaTransfer, add_payment per payment, export(validate=True) (xmlschema).

    Timed from the payment dicts (read before) to the validated bytes.
    """
    import xmlschema.limits
    from sepaxml import SepaTransfer

    # xmlschema refuses documents of more than 1,000,000 elements by default (100k payments
    # have ~1.7 million): raised so that the peer can be measured at all
    xmlschema.limits.MAX_XML_ELEMENTS = 100_000_000

    payments = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            p = json.loads(line)
            payments.append({"name": p["name"], "IBAN": p["iban"], "amount": p["cents"],
                             "execution_date": date(2026, 11, 24), "description": p["remittance"],
                             "endtoend_id": p["e2e"]})
    setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), _cpu_s()
    sepa = SepaTransfer({"name": "Bench GmbH", "IBAN": "DE89370400440532013000",
                         "BIC": "COBADEFFXXX", "batch": True, "currency": "EUR"},
                        clean=True)
    for payment in payments:
        sepa.add_payment(payment)
    data = sepa.export(validate=True)
    return (data.count(b"<CdtTrfTxInf>"), time.perf_counter() - started, _cpu_s() - cpu,
            setup)


CAMT_PEERS: dict[str, Callable[[Path], int]] = {
    "camt053 (PyPI)": camt053_lib, "bankstatementparser camt": bankstatementparser_camt,
    "pycamt": pycamt_lib}
MT940_PEERS: dict[str, Callable[[Path], int]] = {
    "mt-940 (WoLpH)": mt940_lib, "bankstatementparser mt940": bankstatementparser_mt940,
    "mt940 (Tryton)": tryton_mt940}
PAIN001_PEERS: dict[str, Callable[[Path], tuple[int, float, float, float]]] = {
    "sepaxml": sepaxml_pain001}
PEERS: dict[str, Callable[[Path], object]] = {**CAMT_PEERS, **MT940_PEERS, **PAIN001_PEERS}
