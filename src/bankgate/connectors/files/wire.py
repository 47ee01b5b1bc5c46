"""File names and file contents ⇄ domain: what a name may be, what a file says about orders.

Remote names come from the bank's server and are not trusted: a name is used only if it is a
plain file name (`SAFE_NAME`: letters, digits, `.`, `_`, `-`; no `/`, `\\`, `..`, control
characters or leading dot). Anything else is refused and reported, never fetched.
The kind of an inbound file is read from its name (`kind_of`) and checked against its
content when it is parsed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from bankgate.domain import (
    Batch,
    InstructionId,
    Outcome,
    Statement,
    StatusReport,
    mask_numbers,
)
from bankgate.errors import BankRejected, FormatError
from bankgate.formats.iso20022.pain002 import read_pain002, to_status_reports
from bankgate.formats.xml import iter_elements

__all__ = ["SAFE_NAME", "STATEMENT_KINDS", "STATUS_KINDS", "RemoteFile", "UnsafeName", "ack_raw",
           "check_name", "kind_of", "merge_reports", "outbound_name", "pain001_ids",
           "return_reports", "sha256", "status_reports"]

SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
STATUS_KINDS: Final = frozenset({"pain.002", "camt.054"})
STATEMENT_KINDS: Final = frozenset({"camt.053", "camt.052", "camt.054", "mt940"})
_KINDS: Final = (("pain.002", re.compile(r"pain\.?002", re.I)),
                 ("camt.053", re.compile(r"camt\.?053", re.I)),
                 ("camt.052", re.compile(r"camt\.?052", re.I)),
                 ("camt.054", re.compile(r"camt\.?054", re.I)),
                 ("mt940", re.compile(r"mt\.?94[02]|\.sta$", re.I)))
#: How far each outcome is along the lifecycle; a file read later never moves an order back.
_RANK: Final = {Outcome.NOT_FOUND: 0, Outcome.UNRECOGNIZED: 1, Outcome.RECEIVED: 2,
                Outcome.AWAITING_CONFIRMATION: 3, Outcome.ACCEPTED: 4, Outcome.SETTLED: 5,
                Outcome.REJECTED: 6, Outcome.RETURNED: 7}


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A regular file in a remote directory, as listed."""

    name: str
    size: int
    mtime: int


class UnsafeName(BankRejected):
    """A remote file name that is not a plain name (path traversal, control characters)."""

    code = "unsafe_remote_name"


def check_name(name: str, *, where: str) -> str:
    """`name` when it is a plain file name; UnsafeName otherwise."""
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        shown = name.encode("unicode_escape").decode("ascii")[:80]
        raise UnsafeName(f"{where}: remote name {shown!r} is not a plain file name; refused")
    return name


def kind_of(name: str) -> str | None:
    """The message kind a bank file's name announces (pain.002, camt.053, ..., mt940)."""
    for kind, pattern in _KINDS:
        if pattern.search(name):
            return kind
    return None


def outbound_name(batch: Batch) -> str:
    """The batch's pain.001 file name: the same batch, always the same name."""
    return check_name(f"PAIN001_{batch.id}.xml", where="outbound")


def sha256(data: bytes) -> str:
    """Hex SHA-256 of a file's bytes (what transfers are known by)."""
    return hashlib.sha256(data).hexdigest()


def ack_raw(name: str, digest: str, size: int, *, already_there: bool) -> bytes:
    """What a submit keeps as the bank's answer: the file we left, by name and hash."""
    return json.dumps({"file": name, "sha256": digest, "bytes": size,
                       "already_there": already_there}, sort_keys=True).encode()


def status_reports(content: bytes, origin: str) -> list[StatusReport]:
    """A pain.002's transaction statuses as reports, each keeping the file as raw."""
    reports = to_status_reports(read_pain002(io.BytesIO(content), origin))
    return [_with_raw(r, content) for r in reports]


def return_reports(statements: Iterable[Statement], content: bytes) -> list[StatusReport]:
    """Returned payments in a camt.054 (entries whose details carry a return reason)."""
    found = []
    for statement in statements:
        for entry in statement.entries:
            for detail in entry.transactions:
                if detail.return_reason and detail.end_to_end_id:
                    found.append(StatusReport(
                        instruction_id=InstructionId(detail.end_to_end_id),
                        outcome=Outcome.RETURNED, bank_code="RTRN",
                        reason_code=detail.return_reason, reason="returned by the payee's bank",
                        bank_reference=entry.bank_reference, raw=content))
    return found


def _with_raw(report: StatusReport, raw: bytes) -> StatusReport:
    return StatusReport(instruction_id=report.instruction_id, outcome=report.outcome,
                        bank_code=report.bank_code, reason_code=report.reason_code,
                        # INV-7: a pain.002's AddtlInf may name the account in full (the
                        # sandbox's AC04 "payee account … is closed"); raw keeps it as sent
                        reason=mask_numbers(report.reason) if report.reason else report.reason,
                        reported_at=report.reported_at,
                        bank_reference=report.bank_reference, raw=raw)


def merge_reports(into: dict[str, StatusReport], reports: Iterable[StatusReport]) -> None:
    """Keep, per instruction id, the report furthest along the lifecycle."""
    for report in reports:
        held = into.get(report.instruction_id)
        if held is None or _RANK[report.outcome] >= _RANK[held.outcome]:
            into[report.instruction_id] = report


def pain001_ids(content: bytes, origin: str) -> frozenset[str]:
    """The end-to-end ids of a pain.001 we uploaded (what the bank holds by file)."""
    ids = set()
    try:
        for element in iter_elements(io.BytesIO(content), origin, frozenset({"EndToEndId"})):
            if element.text:
                ids.add(element.text.strip())
    except FormatError:
        return frozenset()
    return frozenset(ids)
