"""The one hardened XML parser: streaming, no DTD, no entities, no network, bounded size.

Hostile input (RELIABILITY.md 2.5): a DOCTYPE of any kind — the carrier of entity bombs,
external entities (XXE) and external DTDs — is refused before parsing; entities are never
resolved, nothing is fetched, XInclude is never processed, and a stream over the size limit
is cut off with a clear error, never half-read into a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Final

from lxml import etree

from bankgate.errors import FormatError

__all__ = ["MAX_XML_BYTES", "iter_elements", "local", "xpath_of"]

MAX_XML_BYTES: Final = 2 * 1024 * 1024 * 1024
_PROLOG_BYTES: Final = 64 * 1024
_DOCTYPE: Final = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class _Bounded:
    """A read-only view of a stream that refuses to go past `limit` bytes."""

    def __init__(self, stream: IO[bytes], head: bytes, limit: int, origin: str) -> None:
        self._stream, self._head, self._limit, self._origin = stream, head, limit, origin
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        if self._head:
            chunk, self._head = self._head, b""
        else:
            chunk = self._stream.read(size if size and size > 0 else 1 << 16)
        self._read += len(chunk)
        if self._read > self._limit:
            raise FormatError(self._origin, "", f"larger than {self._limit} bytes; refused")
        return chunk


def iter_elements(stream: IO[bytes], origin: str, tags: frozenset[str], *,
                  limit: int = MAX_XML_BYTES, free: bool = True) -> Iterator[etree._Element]:
    """Yield each complete element whose local name is in `tags`, then free it.

    Memory stays bounded by the largest such element, whatever the file size. The caller
    must not keep references to yielded elements. With `free=False` the caller frees them.
    """
    head = stream.read(_PROLOG_BYTES)
    if not head.strip():
        raise FormatError(origin, "line 1", "the file is empty")
    if _DOCTYPE.search(head.split(b"?>", 1)[-1][:_PROLOG_BYTES]):
        raise FormatError(origin, "prolog", "a DOCTYPE or ENTITY declaration is not allowed "
                          "(entity expansion and external DTDs are refused)")
    events = etree.iterparse(_Bounded(stream, head, limit, origin), events=("end",),
                             tag=[f"{{*}}{t}" for t in sorted(tags)],
                             resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        for _, element in events:  # lxml matches the tags in C, any namespace
            yield element
            if free:
                _free(element)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        raise FormatError(origin, f"line {line}", f"not well-formed XML: {exc.msg}") from exc


def _free(element: etree._Element) -> None:
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def local(tag: object) -> str:
    """An element's name without its namespace."""
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def xpath_of(element: etree._Element) -> str:
    """A readable path of local names, e.g. /Document/BkToCstmrStmt/Stmt[2]/Ntry[14]."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = local(node.tag)
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if local(c.tag) == name]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))
