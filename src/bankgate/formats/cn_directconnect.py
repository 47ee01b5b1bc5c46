"""The 银企直联 package of front-end processors: `<CMBSDKPGK><INFO>…</INFO><RECORD>…`.

China Merchants Bank's direct-connect XML (samples in shared/samples/cn-cmb, from CMB's
interface manual): one root element, an `INFO` header (`FUNNAM` the transaction code,
`DATTYP` 2 = XML, `LGNNAM` the operator; answers add `RETCOD` and `ERRMSG`), then flat
records, each an element whose children are text fields. Messages on the wire are GBK; the
reader follows the XML declaration (GBK, GB18030 or UTF-8), through `formats/xml.py`'s
hardened parser (no DTD, no entities, size bound).

A `Package` is the envelope only; what the records and codes mean is the bank's table
(`connectors/frontend/banks/`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from bankgate.errors import FormatError
from bankgate.formats.xml import iter_elements, local

__all__ = ["MAX_PACKAGE_BYTES", "ROOT", "Package", "Record", "read_package", "write_package"]

ROOT: Final = "CMBSDKPGK"
MAX_PACKAGE_BYTES: Final = 8 * 1024 * 1024
_ENCODINGS: Final = ("GBK", "GB18030", "UTF-8")


@dataclass(frozen=True, slots=True)
class Record:
    """One record: its tag and its fields in order (text, "" when empty)."""

    tag: str
    fields: Mapping[str, str]
    where: str = ""  # XPath of the record in the package it was read from


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    """A direct-connect package: the INFO header and the records."""

    info: Mapping[str, str]
    records: tuple[Record, ...] = field(default_factory=tuple)

    @property
    def function(self) -> str:
        """The transaction code (INFO/FUNNAM)."""
        return self.info.get("FUNNAM", "")

    def of(self, tag: str) -> list[Record]:
        """The records with this tag, in order."""
        return [r for r in self.records if r.tag == tag]


def write_package(info: Mapping[str, str], records: Sequence[Record], *,
                  encoding: str = "GBK", origin: str = "package") -> bytes:
    """The package as bytes in `encoding`, with the XML declaration naming it.

    Raises:
        FormatError: a value that `encoding` cannot write (named by record and field) —
            never an XML character reference a bank front-end might not read back.
    """
    if encoding.upper() not in _ENCODINGS:
        raise FormatError(origin, "", f"encoding {encoding!r} is not one of {_ENCODINGS}")
    root = etree.Element(ROOT)
    _append(root, "INFO", info, encoding, origin, "/CMBSDKPGK/INFO")
    for index, record in enumerate(records, start=1):
        _append(root, record.tag, record.fields, encoding, origin,
                f"/CMBSDKPGK/{record.tag}[{index}]")
    data = etree.tostring(root, encoding=encoding, xml_declaration=True)
    assert isinstance(data, bytes)  # an encoding other than "unicode" gives bytes
    return data


def _append(parent: etree._Element, tag: str, fields: Mapping[str, str], encoding: str,
            origin: str, where: str) -> None:
    element = etree.SubElement(parent, tag)
    for name, value in fields.items():
        try:
            value.encode(encoding)
        except UnicodeEncodeError as exc:
            raise FormatError(origin, f"{where}/{name}", f"{value[exc.start:exc.end]!r} "
                              f"cannot be written in {encoding}") from None
        etree.SubElement(element, name).text = value


def read_package(raw: bytes, origin: str) -> Package:
    """A package from bytes (GBK, GB18030 or UTF-8 by its declaration).

    Raises:
        FormatError: not well-formed, hostile (DOCTYPE, entities), another root, no INFO,
            or a record with nested elements; `where` names the place.
    """
    if len(raw) > MAX_PACKAGE_BYTES:
        raise FormatError(origin, "", f"larger than {MAX_PACKAGE_BYTES} bytes; refused")
    info: dict[str, str] | None = None
    records: list[Record] = []
    root_seen = False
    for element in iter_elements(io.BytesIO(raw), origin, frozenset({ROOT}), free=False,
                                 limit=MAX_PACKAGE_BYTES):
        if element.getparent() is not None:
            raise FormatError(origin, "/" + ROOT, f"{ROOT} is not the root element")
        root_seen = True
        for index, child in enumerate(element, start=1):
            tag = local(child.tag)
            fields = _fields(child, origin, f"/{ROOT}/{tag}")
            if tag == "INFO":
                info = fields
            else:
                records.append(Record(tag, fields, f"/{ROOT}/*[{index}]"))
    if not root_seen:
        raise FormatError(origin, "/", f"the root element is not {ROOT}")
    if info is None:
        raise FormatError(origin, f"/{ROOT}/INFO", "the INFO header is missing")
    return Package(info=info, records=tuple(records))


def _fields(element: etree._Element, origin: str, where: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for child in element:
        name = local(child.tag)
        if len(child):
            raise FormatError(origin, f"{where}/{name}", "a field holds nested elements")
        if name in fields:
            raise FormatError(origin, f"{where}/{name}", "the field appears twice")
        fields[name] = (child.text or "").strip()
    return fields
