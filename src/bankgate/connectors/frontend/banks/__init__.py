"""Front-end processor dialects: each bank's transaction codes and field names, as data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bankgate.connectors.frontend.banks.cmb import CMB
from bankgate.connectors.frontend.banks.model import Calls, FrontendBank, RetCode

__all__ = ["BANKS", "Calls", "FrontendBank", "RetCode"]

BANKS: Final[Mapping[str, FrontendBank]] = {"cmb": CMB}
