"""Generated camt.053 statements of any size for the streaming tests (not a test module)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

HEAD = ("<?xml version='1.0' encoding='UTF-8'?>\n<Document xmlns='urn:iso:std:iso:20022:tech:"
        "xsd:camt.053.001.08'><BkToCstmrStmt><GrpHdr><MsgId>GEN</MsgId><CreDtTm>"
        "2026-11-23T08:00:00</CreDtTm></GrpHdr><Stmt><Id>S-GEN</Id><CreDtTm>2026-11-23T08:00:00"
        "</CreDtTm><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>")


def entry(n: int, *, ref: str | None = "", cents: int | None = None, name: str | None = None,
          uetr: str | None = None) -> str:
    """One Ntry: `ref=""` gives a unique reference, `ref=None` none at all."""
    cents = 100 + n % 997 if cents is None else cents
    own_ref = f"ASR{n:09d}" if ref == "" else ref
    refs = f"<AcctSvcrRef>{own_ref}</AcctSvcrRef>" if own_ref else ""
    uetr_el = f"<UETR>{uetr}</UETR>" if uetr else ""
    return (f"<Ntry><Amt Ccy='EUR'>{cents // 100}.{cents % 100:02d}</Amt><CdtDbtInd>CRDT"
            "</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-23</Dt></BookgDt><ValDt>"
            f"<Dt>2026-11-23</Dt></ValDt>{refs}<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
            "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls><Refs>"
            f"<EndToEndId>E2E{n}</EndToEndId>{uetr_el}</Refs><RltdPties><Dbtr><Nm>"
            f"{name or f'Kunde {n}'}</Nm></Dbtr></RltdPties><RmtInf><Ustrd>Rechnung {n % 50}"
            "</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"), cents


def write_camt053(path: Path, count: int,
                  special: Callable[[int], tuple[str, int] | None] = lambda n: None,
                  *, closing_delta: int = 0) -> int:
    """A camt.053.001.08 of `count` entries (opening 0, closing = their sum + delta).

    `special(n)` may replace entry n; returns the file's size in bytes.
    """
    def one(n: int) -> tuple[str, int]:
        return special(n) or entry(n)

    closing = sum(one(n)[1] for n in range(count)) + closing_delta
    balances = "".join(
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>"
        f"{amount // 100}.{amount % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-23"
        "</Dt></Dt></Bal>" for code, amount in (("OPBD", 0), ("CLBD", closing)))
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD + balances)
        for n in range(count):
            out.write(one(n)[0])
        out.write("</Stmt></BkToCstmrStmt></Document>\n")
    return path.stat().st_size
