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
_TWO_DIGITS: Final = re.compile(r"\d{2}")
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
    pairs = _subfields(rest)
    first = dict(reversed(pairs))  # each subfield's first value (built in C)
    remittance = "".join([first[n] for n in _REMITTANCE if n in first])
    sepa = _sepa_parts(remittance) if "+" in remittance else {}
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


def _subfields(rest: str) -> list[tuple[str, str]]:
    """`?NN` subfields as (NN, text): each piece between `?`s, its first two digits the code.

    `str.split` instead of a regex `findall` (~20 % of the field's time); a piece that does
    not start with two digits gives the first two digits inside it, as the regex did.
    """
    pairs: list[tuple[str, str]] = []
    for piece in rest.split("?"):
        if len(piece) >= 2 and piece[:2].isdecimal():  # isdecimal is what regex \d matches
            pairs.append((piece[:2], piece[2:]))
        elif piece:
            found = _TWO_DIGITS.search(piece)
            if found:
                pairs.append((found.group(), piece[found.end():]))
    return pairs


def _sepa_parts(text: str) -> dict[str, str]:
    pieces = _SEPA.split(text)  # [before, key, value, key, value, ...]; a later key wins
    return dict(zip(pieces[1::2], map(str.strip, pieces[2::2]), strict=True))


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
