"""The reconciliation engine (对账): pure matching of bank lines to open items.

Imports only `bankgate.domain` (and rapidfuzz); no I/O. The values it exchanges live in
`bankgate.domain.recon`. `match()` takes and returns domain values; `match_columns()` is the
bulk path over `LineColumns` / `ItemColumns` (docs/reconciliation.md).
"""

from bankgate.recon.columns import ItemColumns, LineColumns, item_columns, line_columns
from bankgate.recon.engine import RULES, match, match_columns, suggestions_of, to_result
from bankgate.recon.text import normalise_name, remittance_keys

__all__ = [
    "RULES",
    "ItemColumns",
    "LineColumns",
    "item_columns",
    "line_columns",
    "match",
    "match_columns",
    "normalise_name",
    "remittance_keys",
    "suggestions_of",
    "to_result",
]
