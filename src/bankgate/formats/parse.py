"""`parse(stream, origin, format=None)`: detect the format and read the whole file.

The whole file is read before anything is returned, so a file that fails half-way yields an
error, never a partial result presented as whole. `stream_statement_file` gives the events
of `formats/stream.py` instead (constant memory for camt); its consumer must treat a
FormatError part-way as the failure of the whole file (the import rolls back).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any, cast

from bankgate.domain import Statement
from bankgate.errors import FormatError
from bankgate.formats.csvprofiles import builtin_profiles, detect_profile, read_csv_statement
from bankgate.formats.iso20022.camt import detect_camt, read_camt, stream_camt
from bankgate.formats.iso20022.pain002 import detect_pain002, read_pain002
from bankgate.formats.normalized_json import document, status_lines
from bankgate.formats.stream import StatementEvent, events_of
from bankgate.formats.swift.mt940 import detect_mt94x, read_mt940

__all__ = ["FORMATS", "detect", "detect_statement_file", "parse_to_json", "read_statement_file",
           "stream_statement_file"]

FORMATS = ("camt.052", "camt.053", "camt.054", "mt940", "mt942", "pain.002", "csv")
_HEAD = 64 * 1024


def detect(head: bytes) -> str | None:
    """The format of a file from its first bytes, or None ("csv:<profile>" for bank CSVs)."""
    found = detect_camt(head) or detect_pain002(head) or detect_mt94x(head)
    if found is None:
        profile = detect_profile(head)
        found = f"csv:{profile.name}" if profile else None
    return found


def _read(found: str, stream: IO[bytes], origin: str) -> list[Statement]:
    if found.startswith("csv:"):
        profile = builtin_profiles()[found.removeprefix("csv:")]
        return [read_csv_statement(stream, profile, origin)]
    if found.startswith("mt94"):
        return list(read_mt940(stream, origin))
    return list(read_camt(stream, origin))


def parse_to_json(stream: IO[bytes], origin: str, fmt: str | None = None) -> dict[str, Any]:
    """The normalized JSON document of a bank file."""
    if not isinstance(stream, io.BufferedReader):
        stream = io.BufferedReader(cast(io.RawIOBase, stream))
    head = stream.peek(_HEAD)[:_HEAD]
    found = detect(head)
    if fmt is not None and (found is None or not found.startswith(fmt)):
        raise FormatError(origin, "", f"expected {fmt}, the file is "
                          f"{found or 'of an unknown format'}")
    if found is None and b"pacs.002" in head:
        raise FormatError(origin, "", "this is a pacs.002 interbank status report; bankgate "
                          "reads the customer status report pain.002")
    if found is None:
        raise FormatError(origin, "", f"unknown format (bankgate reads {', '.join(FORMATS)}); "
                          "name it with --format")
    if found.startswith("pain.002"):
        return document(found, [], status_lines(read_pain002(stream, origin)))
    return document(found, _read(found, stream, origin))


def detect_statement_file(head: bytes, origin: str) -> str:
    """The format of a statement file from its first 64 KiB; FormatError if it is none."""
    found = detect(head[:_HEAD])
    if found is None or found.startswith("pain.002"):
        raise FormatError(origin, "", "not a statement file (camt.052/053/054, MT940/942, or "
                          "a bank CSV export with a known profile)")
    return found


def read_statement_file(content: bytes, origin: str) -> tuple[str, list[Statement]]:
    """The format and every statement of a statement file (camt.052/053/054, MT940/942)."""
    found = detect_statement_file(content, origin)
    return found, _read(found, io.BytesIO(content), origin)


def stream_statement_file(found: str, stream: IO[bytes],
                          origin: str) -> Iterator[StatementEvent]:
    """The events of a statement file of format `found` (see `detect_statement_file`).

    camt is read as a stream (memory bounded whatever the statement's size); MT940/942 and
    CSV exports are read a statement at a time (their files are capped in size).
    """
    if found.startswith("camt"):
        return stream_camt(stream, origin)
    return events_of(_read(found, stream, origin))
