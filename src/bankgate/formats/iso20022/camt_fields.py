"""The fields of camt entries and transactions, and the dates they carry.

An entry is read by `speedups.pull_values`, which walks the element's children once,
descending only where a wanted path goes, and fills one slot per field below (in C when the
package was compiled with it). Before, a walk in Python filled dicts (~9 µs an entry on the
bench file, and an lxml proxy per element), which in turn replaced ~20 `findtext` calls (~6
µs each); see docs/benchmarks.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

from bankgate.formats.speedups import AMOUNT, NONE, RECORD, TEXTS, Plan, plan_of

__all__ = ["DETAIL_FIELDS", "DETAIL_PLAN", "ENTRY_FIELDS", "ENTRY_PLAN", "datetime_of"]

#: What one transaction (`TxDtls`) gives, slot by slot (`Converter.detail` unpacks them in
#: this order).
DETAIL_FIELDS: Final = (
    ("AmtDtls/TxAmt/Amt", AMOUNT), ("Amt", AMOUNT), ("Refs/EndToEndId", NONE),
    ("Refs/InstrId", NONE), ("Refs/TxId", NONE), ("Refs/UETR", NONE),
    ("Refs/AcctSvcrRef", NONE), ("RltdPties/Dbtr/Nm", NONE), ("RltdPties/Dbtr/Pty/Nm", NONE),
    ("RltdPties/Cdtr/Nm", NONE), ("RltdPties/Cdtr/Pty/Nm", NONE),
    ("RltdPties/DbtrAcct/Id/IBAN", NONE), ("RltdPties/DbtrAcct/Id/Othr/Id", NONE),
    ("RltdPties/CdtrAcct/Id/IBAN", NONE), ("RltdPties/CdtrAcct/Id/Othr/Id", NONE),
    ("RmtInf/Ustrd", TEXTS), ("RmtInf/Strd/CdtrRefInf/Ref", NONE), ("RtrInf/Rsn/Cd", NONE))
DETAIL_PLAN: Final = plan_of(DETAIL_FIELDS)
#: What one entry (`Ntry`) gives, slot by slot (`Converter.entry` unpacks them in this
#: order); its transactions come as value lists of DETAIL_PLAN.
ENTRY_FIELDS: Final = (
    ("Amt", AMOUNT), ("CdtDbtInd", NONE), ("RvslInd", NONE), ("Sts", NONE), ("Sts/Cd", NONE),
    ("BookgDt/Dt", NONE), ("BookgDt/DtTm", NONE), ("ValDt/Dt", NONE), ("ValDt/DtTm", NONE),
    ("AcctSvcrRef", NONE), ("BkTxCd/Domn/Cd", NONE), ("BkTxCd/Domn/Fmly/Cd", NONE),
    ("BkTxCd/Domn/Fmly/SubFmlyCd", NONE), ("BkTxCd/Prtry/Cd", NONE), ("AddtlNtryInf", NONE),
    ("NtryDtls/TxDtls", RECORD))
ENTRY_PLAN: Final[Plan] = plan_of(ENTRY_FIELDS, {"NtryDtls/TxDtls": DETAIL_PLAN})


_DATES: dict[str, datetime] = {}
_DATES_MAX: Final = 4096


def datetime_of(text: str) -> datetime:
    """An aware datetime from ISO date or date-time text (UTC when no offset is given).

    Raises:
        ValueError: the text is neither.
    """
    found = _DATES.get(text)
    if found is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        found = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if len(_DATES) >= _DATES_MAX:  # statements repeat few dates; keep the cache small
            _DATES.clear()
        _DATES[text] = found
    return found
