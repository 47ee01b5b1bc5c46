"""The `:86:` information-to-account-owner field, in the dialects banks use.

- structured German/DK style: `166?00GUTSCHRIFT?20text?21text?32name?31account` (GVC code,
  then `?NN` subfields: ?20-?29 and ?60-?63 remittance, ?32/?33 name, ?31 account, ?30 BLZ);
  SEPA keywords inside the remittance (`EREF+`, `SVWZ+`, `MREF+`, `KREF+`);
- slash style (ING, ABN AMRO, Rabobank): `/EREF/ref/REMI/text/NAME/name/IBAN/NL..`;
- free text: everything is remittance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["Details", "read_field86"]

_SUBFIELD: Final = re.compile(r"\?(\d{2})")
_SLASH_KEY: Final = re.compile(r"/(EREF|MREF|CRED|REMI|NAME|IBAN|BIC|CNTP|ORDP|BENM|KREF|"
                               r"ULTD|ULTC|PURP|RTRN|ADDR|CSID|TRTP|MARF|SVWZ|ISDT)/")
_SEPA: Final = re.compile(r"(EREF|KREF|MREF|CRED|SVWZ|ABWA|ABWE|IBAN|BIC)\+")
_GVC: Final = re.compile(r"\d{3}\?")
_PAIRS: Final = re.compile(r"(\d{2})([^?]*)")
_REMITTANCE: Final = tuple(f"{n:02d}" for n in (*range(20, 30), *range(60, 64)))


@dataclass(frozen=True, slots=True)
class Details:
    """What an `:86:` field says about one entry."""

    remittance: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    code: str | None = None  # the GVC / transaction code, when the dialect has one


def read_field86(text: str) -> Details:
    """Details of an entry from its `:86:` text, whatever the dialect."""
    flat = text.replace("\n", "")
    if _GVC.match(flat) and _SUBFIELD.search(flat):
        return _structured(flat)
    if _SLASH_KEY.search(flat):
        return _slashed(flat)
    cleaned = " ".join(text.split())
    return Details(remittance=cleaned or None)


def _structured(flat: str) -> Details:
    code, _, rest = flat.partition("?")
    pairs: list[tuple[str, str]] = _PAIRS.findall("?" + rest if not rest.startswith("?")
                                                  else rest)
    first = dict(reversed(pairs))  # each subfield's first value (built in C)
    remittance = "".join([first[n] for n in _REMITTANCE if n in first])
    sepa = _sepa_parts(remittance)
    name = account = None
    if "32" in first or "33" in first:  # ?32 and ?33 continue each other, in that order
        name = ("".join([v for n, v in pairs if n == "32"])
                + "".join([v for n, v in pairs if n == "33"])).strip() or None
    if "31" in first:
        account = "".join([v for n, v in pairs if n == "31"]).strip() or None
    text = sepa.get("SVWZ", remittance).strip()
    return Details(remittance=text or None, counterparty_name=name,
                   counterparty_account=account or sepa.get("IBAN"),
                   end_to_end_id=_ref(sepa.get("EREF")), code=code[:3] or None)


def _sepa_parts(text: str) -> dict[str, str]:
    pieces = _SEPA.split(text)  # [before, key, value, key, value, ...]
    return {pieces[i]: pieces[i + 1].strip() for i in range(1, len(pieces), 2)}


def _slashed(flat: str) -> Details:
    marks = list(_SLASH_KEY.finditer(flat))
    parts: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(flat)
        parts.setdefault(mark.group(1), flat[mark.end():end].strip("/ ").strip())
    account = parts.get("IBAN") or (parts.get("CNTP", "").split("/")[0] or None)
    return Details(remittance=parts.get("REMI") or parts.get("SVWZ") or None,
                   counterparty_name=parts.get("NAME") or None,
                   counterparty_account=account, end_to_end_id=_ref(parts.get("EREF")))


def _ref(ref: str | None) -> str | None:
    return None if not ref or ref.upper() in ("NOTPROVIDED", "NONREF") else ref
