"""Counterparty names and remittance references, normalised for comparison.

Names: NFKC (full-width letters, digits and brackets become ASCII), case folded, punctuation and
spaces dropped, and the legal-form suffixes that banks and ERPs write inconsistently removed
(有限公司 / 有限责任公司 / 股份有限公司, Co., Ltd., Limited, Inc., GmbH …), so
"上海华信科技有限公司" and "上海华信科技" compare as the same name.

References: the keys of invoice and order numbers live in `bankgate.domain.recon_keys` (the
store computes them when it stores a row); re-exported here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bankgate.domain.recon_keys import reference_keys, remittance_keys

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
