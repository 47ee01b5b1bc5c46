"""The peer libraries, each asked to read the whole file and give every entry (bench only).

Run with the interpreter of `.venv-bench` (see formats.py); never imported by bankgate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


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


CAMT_PEERS: dict[str, Callable[[Path], int]] = {
    "camt053 (PyPI)": camt053_lib, "bankstatementparser camt": bankstatementparser_camt,
    "pycamt": pycamt_lib}
MT940_PEERS: dict[str, Callable[[Path], int]] = {
    "mt-940 (WoLpH)": mt940_lib, "bankstatementparser mt940": bankstatementparser_mt940}
PEERS = {**CAMT_PEERS, **MT940_PEERS}
