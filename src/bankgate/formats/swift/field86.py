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

from bankgate.formats.speedups import maker
from bankgate.formats.swift.compiled import C

__all__ = ["Details", "read_field86"]

_SUBFIELD: Final = re.compile(r"\?(\d{2})")
_SLASH_KEY: Final = re.compile(r"/(EREF|MREF|CRED|REMI|NAME|IBAN|BIC|CNTP|ORDP|BENM|KREF|"
                               r"ULTD|ULTC|PURP|RTRN|ADDR|CSID|TRTP|MARF|SVWZ|ISDT)/")
_SEPA_KEYS: Final = frozenset(("EREF", "KREF", "MREF", "CRED", "SVWZ", "ABWA", "ABWE", "IBAN"))
_NO_SEPA: Final[dict[str, str]] = {}
_GVC: Final = re.compile(r"\d{3}\?")
_PAIR: Final = re.compile(r"(\d{2})([^?]*)")
_REMITTANCE: Final = tuple(f"{n:02d}" for n in (*range(20, 30), *range(60, 64)))


@dataclass(frozen=True, slots=True)
class Details:
    """What an `:86:` field says about one entry."""

    remittance: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    code: str | None = None  # the GVC / transaction code, when the dialect has one


#: Details from values in this order (`speedups.maker`: ~1 µs less than keywords).
_new_details: Final = maker(Details, ("remittance", "counterparty_name", "counterparty_account",
                                      "end_to_end_id", "code"))


def read_field86(text: str) -> Details:
    """Details of an entry from its `:86:` text, whatever the dialect."""
    flat = text.replace("\n", "")
    if C is not None:  # the compiled `_structured`, which also tells the dialect
        found: Details | None = C.structured86(flat, _new_details)
        if found is not None:
            return found
    elif _GVC.match(flat) and _SUBFIELD.search(flat):
        return _structured(flat)
    if _SLASH_KEY.search(flat):
        return _slashed(flat)
    cleaned = " ".join(text.split())
    return Details(remittance=cleaned or None)


def _structured(flat: str) -> Details:
    # flat[3] is the first `?` (the GVC matched): flat[:3] is the code, `?NN` pieces follow
    pairs = _PAIR.findall(flat, 3)  # what _subfields(flat[4:]) gives, without a copy
    first = dict(reversed(pairs))  # each subfield's first value (built in C)
    remittance = "".join([first[n] for n in _REMITTANCE if n in first])
    sepa = _sepa_parts(remittance) if "+" in remittance else _NO_SEPA
    name = account = None
    if len(first) == len(pairs):  # no code twice (the usual): each code's only value
        if "32" in first or "33" in first:
            name = (first.get("32", "") + first.get("33", "")).strip() or None
        if "31" in first:
            account = first["31"].strip() or None
    else:
        name, account = _repeated(pairs, first)
    text = sepa.get("SVWZ", remittance).strip()
    return _new_details(text or None, name, account or sepa.get("IBAN"),
                        _ref(sepa.get("EREF")), flat[:3])


def _repeated(pairs: list[tuple[str, str]], first: dict[str, str]
              ) -> tuple[str | None, str | None]:
    """Name and account when a code comes more than once: every value, in order."""
    name = account = None
    if "32" in first or "33" in first:  # ?32 and ?33 continue each other, in that order
        name = ("".join([v for n, v in pairs if n == "32"])
                + "".join([v for n, v in pairs if n == "33"])).strip() or None
    if "31" in first:
        account = "".join([v for n, v in pairs if n == "31"]).strip() or None
    return name, account


def _subfields(rest: str) -> list[tuple[str, str]]:
    """`?NN` subfields as (NN, text): each piece between `?`s, its first two digits the code.

    One `findall` of `(\\d{2})([^?]*)` over `?` + rest: a piece that does not start with
    two digits gives the first two digits inside it, as the split reading before it did
    (test_mt940_same_as_before.py compares them).
    """
    return _PAIR.findall("?" + rest)


def _sepa_parts(text: str) -> dict[str, str]:
    """SEPA keywords (`EREF+`, `SVWZ+`, ...) and their stripped values; a later key wins.

    Each key ends at a `+`: the text is split at `+` and a piece ending in a key starts the
    next value (what a regex split on the keys gives, ~2× cheaper).
    """
    pieces = text.split("+")
    parts: dict[str, str] = {}
    key: str | None = None
    value: list[str] = []
    for piece in pieces[:-1]:
        found = piece[-4:] if piece[-4:] in _SEPA_KEYS else "BIC" if piece.endswith("BIC") \
            else None
        if found is None:
            value.append(piece)
            continue
        if key is not None:
            value.append(piece[:-len(found)])
            parts[key] = "+".join(value).strip()
        key, value = found, []
    if key is not None:
        value.append(pieces[-1])
        parts[key] = "+".join(value).strip()
    return parts


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
