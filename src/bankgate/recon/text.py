"""Counterparty names and remittance references, normalised for comparison.

Names: NFKC (full-width letters, digits and brackets become ASCII), case folded, punctuation and
spaces dropped, and the legal-form suffixes that banks and ERPs write inconsistently removed
(有限公司 / 有限责任公司 / 股份有限公司, Co., Ltd., Limited, Inc., GmbH …), so
"上海华信科技有限公司" and "上海华信科技" compare as the same name.

References: invoice and order numbers (发票号 12345678, 订单号：SO-88812, INV-2024-001,
Invoice No. 2024/001) found in free remittance text, as comparison keys.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "digits", "folded", "name_forms", "normalise_account", "normalise_name", "reference_keys",
    "remittance_keys",
]

# Longest first, so 股份有限公司 is removed whole, not as 有限公司 leaving 股份.
_CN_SUFFIXES = (
    "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "分公司", "公司", "集团",
)
_LATIN_SUFFIX = re.compile(
    r"(?:\b(?:co|company|corp|corporation|inc|incorporated|ltd|limited|llc|plc|gmbh|ag|"
    r"sa|bv|pte|group)\b[\s.,]*)+$"
)
_NOT_WORD = re.compile(r"[\W_]+")
_NOT_DIGIT = re.compile(r"\D+")
_TOKEN = re.compile(r"[A-Za-z]{0,8}[\s#:./_-]{0,3}\d[A-Za-z0-9/_-]*")
_ALNUM = re.compile(r"[^A-Z0-9]")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LABELS = re.compile(r"^(?:INVOICE|INV|NO|ORDER|ORD|PO|SO|REF|CONTRACT)+")
_HAS_DIGIT = re.compile(r"\d").search
_MIN_KEY = 6  # shorter keys ("001", "2024") collide across customers


def folded(name: str) -> str:
    """A name in NFKC, case folded, without punctuation and spaces; suffixes kept."""
    return name_forms(name)[1]


def normalise_name(name: str) -> str:
    """A counterparty name reduced to what identifies it (cached: names repeat a lot)."""
    return name_forms(name)[0]


@lru_cache(maxsize=1 << 16)
def name_forms(name: str) -> tuple[str, str, str]:
    """A name's compared forms: normalised (`normalise_name`), folded (`folded`), and the
    digits of the normalised form; NFKC and case folding done once for all three."""
    base = unicodedata.normalize("NFKC", name).casefold()
    text = base.strip()
    if text[-1:].isascii():  # a Latin suffix ends in a letter, "." or ","; skip the scan
        text = _LATIN_SUFFIX.sub("", text).strip(" .,")
    text = _NOT_WORD.sub("", text)
    for suffix in _CN_SUFFIXES:  # the longest suffix that ends the name decides
        if text.endswith(suffix):
            if len(text) > len(suffix) + 1:  # keep "有限公司" alone, or "X公司"
                text = text[: -len(suffix)]
            break
    numbers = "" if text.isalpha() else _NOT_DIGIT.sub("", text)  # letters hold no \d
    return text, _NOT_WORD.sub("", base), numbers


@lru_cache(maxsize=1 << 16)
def digits(text: str) -> str:
    """The digits of a text, in order ("shipping75" → "75")."""
    return _NOT_DIGIT.sub("", text)


def normalise_account(number: str) -> str:
    """An account number without spaces, dashes and case differences."""
    if number.isdigit():  # most are digits only: the same string, its hash already known
        return number
    if number.isalnum():
        return number.upper()
    return _NOT_WORD.sub("", number).upper()


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
