"""`parse(stream, origin, format=None)`: detect the format and read the whole file.

The whole file is read before anything is returned, so a file that fails half-way yields an
error, never a partial result presented as whole.
"""

from __future__ import annotations

import io
from typing import IO, Any, cast

from bankgate.errors import FormatError
from bankgate.formats.iso20022.camt import detect_camt, read_camt
from bankgate.formats.normalized_json import document

__all__ = ["FORMATS", "detect", "parse_to_json"]

FORMATS = ("camt.052", "camt.053", "camt.054")
_HEAD = 64 * 1024


def detect(head: bytes) -> str | None:
    """The format of a file from its first bytes, or None."""
    return detect_camt(head)


def parse_to_json(stream: IO[bytes], origin: str, fmt: str | None = None) -> dict[str, Any]:
    """The normalized JSON document of a bank file."""
    if not isinstance(stream, io.BufferedReader):
        stream = io.BufferedReader(cast(io.RawIOBase, stream))
    head = stream.peek(_HEAD)[:_HEAD]
    found = detect(head)
    if fmt is not None and (found is None or not found.startswith(fmt)):
        raise FormatError(origin, "", f"expected {fmt}, the file is {found or 'not camt'}")
    if found is None:
        raise FormatError(origin, "", "unknown format (bankgate reads camt.052, camt.053 and "
                          "camt.054 today); name it with --format")
    return document(found, list(read_camt(stream, origin)))
