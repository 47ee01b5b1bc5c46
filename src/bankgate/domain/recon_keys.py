"""Reference keys: invoice and order numbers as the matcher compares them (issue 6).

Found in free remittance text (发票号 12345678, 订单号：SO-88812, INV-2024-001, Invoice No.
2024/001) and in an open item's own references. Computed once, when a statement entry or an
open item is stored (`store/statements.py`, `store/recon.py` keep them in `recon_keys`), and
again by the matcher only for rows stored before that column existed. Pure: no I/O.

Keys hold only letters and digits, so the stored forms are plain text: a line's keys joined
by spaces (`pack_keys`); an item's keys per reference joined by spaces, references by ";"
(`pack_item_keys`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["item_keys", "pack_item_keys", "pack_keys", "reference_keys", "remittance_keys",
           "unpack_item_keys", "unpack_keys"]

_TOKEN = re.compile(r"[A-Za-z]{0,8}[\s#:./_-]{0,3}\d[A-Za-z0-9/_-]*")
_ALNUM = re.compile(r"[^A-Z0-9]")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LABELS = re.compile(r"^(?:INVOICE|INV|NO|ORDER|ORD|PO|SO|REF|CONTRACT)+")
_HAS_DIGIT = re.compile(r"\d").search
_MIN_KEY = 6  # shorter keys ("001", "2024") collide across customers


def reference_keys(reference: str) -> tuple[str, ...]:
    """The keys an item's reference is found under: all of it, and its number without a label.

    "INV-2024-001" → ("INV2024001", "2024001"); "12345678" → ("12345678",).
    """
    if reference.isascii() and reference.isdigit():  # most are: the number is the key
        return (reference,) if len(reference) >= _MIN_KEY else ()
    full = _ALNUM.sub("", unicodedata.normalize("NFKC", reference).upper())
    keys = [full] if len(full) >= _MIN_KEY else []
    bare = full.lstrip(_LETTERS)
    if bare != full and len(bare) >= _MIN_KEY:
        keys.append(bare)
    return tuple(keys)


def remittance_keys(text: str) -> tuple[str, ...]:
    """Reference keys found in remittance text, in order of appearance, without repeats."""
    if not _HAS_DIGIT(text):
        return ()
    found: list[str] = []
    if not text.isascii():  # ASCII is its own NFKC form; the check is C-level
        text = unicodedata.normalize("NFKC", text)
    for token in _TOKEN.findall(text):
        if token.isdigit():  # "12345678", the usual invoice number: its own only key
            if len(token) >= _MIN_KEY and token not in found:
                found.append(token)
            continue
        full = token.upper()
        if not full.isalnum():
            full = _ALNUM.sub("", full)
        keys = (full,) if full[0].isdigit() else (full, _LABELS.sub("", full),
                                                  full.lstrip(_LETTERS))
        for key in keys:
            if len(key) >= _MIN_KEY and key not in found:
                found.append(key)
    return tuple(found)


def item_keys(references: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """`reference_keys` of each of an item's references, in their order."""
    return tuple(reference_keys(ref) for ref in references)


def pack_keys(keys: Sequence[str]) -> str:
    """A line's keys as stored: joined by spaces ("" when there is none)."""
    return " ".join(keys)


def unpack_keys(text: str) -> tuple[str, ...]:
    """The keys `pack_keys` stored."""
    return tuple(text.split())


def pack_item_keys(keys: Sequence[Sequence[str]]) -> str:
    """An item's keys per reference as stored: each reference's joined by spaces, the
    references by ";" ("" for an item without references)."""
    return ";".join(" ".join(k) for k in keys)


def unpack_item_keys(text: str, count: int) -> tuple[tuple[str, ...], ...]:
    """The keys `pack_item_keys` stored for an item with `count` references.

    Raises:
        ValueError: the text holds the keys of another number of references.
    """
    if not count and not text:
        return ()
    parts = text.split(";")
    if len(parts) != count:
        raise ValueError(f"recon keys {text!r}: {len(parts)} references' keys, "
                         f"the item has {count}")
    return tuple(tuple(part.split()) for part in parts)
