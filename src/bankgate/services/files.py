"""Collect a file bank's files exactly once: status reports applied, statements imported.

The channel is stateless; this service remembers, in `file_transfers`, every file by bank,
direction, name and SHA-256, with the bytes archived in `raw_files` before anything else:

- a file already done (same name, size and time, or same name and content) is skipped;
- a download that breaks is resumed by the channel; one that fails leaves no row, so the
  next run fetches it again — a file is processed once, by content hash (B-17);
- the same content under another name is recorded as `duplicate` and not applied again;
  another content under a name already seen is recorded as `conflict`, raw kept, not
  applied, audited (B-18);
- a pain.002 (or a camt.054's returns) is applied through `status.apply_reports`, the same
  state machine as host-API answers, in the transaction that marks the file `processed`;
- a camt.053/052/054 or MT940 is imported with `statements.import_statement_file`
  (idempotent by entry key), then marked; a run interrupted between the two imports again
  and adds nothing;
- our own delivered pain.001 files are recorded as `uploaded` from the bank's directory by
  name and hash, which is also how a delivery cut off before its record is found (K-13).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Final, Protocol

from bankgate.connectors.base import Channel
from bankgate.connectors.files.wire import (
    RemoteFile,
    kind_of,
    return_reports,
    sha256,
    status_reports,
)
from bankgate.domain import StatusReport
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import FormatError, NotFound
from bankgate.services._tx import Changes, UowFactory, in_transaction
from bankgate.services.statements import import_statement_file
from bankgate.services.status import apply_reports
from bankgate.store import UnitOfWork

__all__ = [
    "Collected",
    "FileExchange",
    "collect_files",
    "file_channel",
    "list_transfers",
    "sync_outbound",
    "transfer_counts",
]

log = logging.getLogger(__name__)

#: States after which a transfer is never processed again.
DONE: Final = frozenset({"processed", "duplicate", "conflict", "unreadable", "ignored",
                         "uploaded"})
_STATEMENTS: Final = frozenset({"camt.053", "camt.052", "camt.054", "mt940"})
_STATUS: Final = frozenset({"pain.002", "camt.054"})


class _Listing(Protocol):
    files: tuple[tuple[RemoteFile, str | None], ...]
    refused: tuple[str, ...]


class _Fetched(Protocol):
    name: str
    kind: str | None
    sha256: str
    content: bytes
    size: int
    mtime: int


class FileExchange(Protocol):
    """What the collector needs of a file channel (connectors/files FilesChannel)."""

    bank: str
    max_file_bytes: int
    collect_every_s: float

    def inbound(self) -> _Listing: ...
    def fetch(self, name: str) -> _Fetched: ...
    def outbound(self) -> list[RemoteFile]: ...
    def fetch_outbound(self, name: str) -> bytes: ...


@dataclass
class Collected:
    """What one collection run did."""

    bank: str
    listed: int = 0
    processed: int = 0
    skipped: int = 0  # done before
    duplicates: int = 0
    conflicts: int = 0
    unreadable: int = 0
    uploads_marked: int = 0
    orders_moved: int = 0
    new_entries: int = 0
    refused_names: list[str] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)  # listed, over max_file_bytes


def file_channel(channels: Mapping[str, Channel], bank: str) -> FileExchange:
    """The file channel of `bank` (unwrapping `Logged`); NotFound when it has none."""
    channel: object = channels.get(bank)
    inner = getattr(channel, "inner", channel)
    if inner is None or not hasattr(inner, "inbound"):
        raise NotFound(f"bank {bank!r} has no file channel")
    return inner  # type: ignore[return-value]


def collect_files(*, uow: UowFactory, channel: FileExchange,
                  now: Callable[[], datetime]) -> Collected:
    """Record our deliveries, then fetch and process every inbound file not done before.

    Raises:
        ChannelError: the bank could not be reached (BankUnavailable); what was done so far
            stays done, and the next run goes on from there.
    """
    done = Collected(bank=channel.bank)
    done.uploads_marked = sync_outbound(uow=uow, channel=channel, now=now,
                                        too_large=done.too_large)
    listing = channel.inbound()
    done.refused_names = list(listing.refused)
    for remote, _kind in listing.files:
        done.listed += 1
        if _already_done(uow, channel.bank, remote):
            done.skipped += 1
            continue
        if remote.size > channel.max_file_bytes:
            done.too_large.append(remote.name)
            continue
        fetched = channel.fetch(remote.name)
        verdict = in_transaction(uow, partial(_receive, bank=channel.bank, fetched=fetched,
                                              at=now()))
        if verdict == "process":
            _process(uow, channel.bank, fetched, now, done)
        else:
            setattr(done, verdict, getattr(done, verdict) + 1)
    if listing.refused or done.too_large:
        _audit_refused(uow, channel.bank, listing.refused, tuple(done.too_large), now())
    log.info("files collected", extra={"bank": channel.bank, "processed": done.processed,
                                       "skipped": done.skipped, "conflicts": done.conflicts})
    return done


def _already_done(uow: UowFactory, bank: str, remote: RemoteFile) -> bool:
    with uow() as unit:
        return any(t.state in DONE and t.size == remote.size and t.remote_mtime == remote.mtime
                   for t in unit.transfers.by_name(bank, "in", remote.name))


def _receive(unit: UnitOfWork, *, bank: str, fetched: _Fetched, at: datetime) -> str:
    """Archive the bytes and decide: "process", "skipped", "duplicates" or "conflicts"."""
    unit.statements.archive_raw(fetched.content, name=f"{bank}/{fetched.name}",
                                origin=f"files:{bank}", at=at)
    held = unit.transfers.get(bank, "in", fetched.name, fetched.sha256, lock=True)
    if held is not None:
        return "skipped" if held.state in DONE else "process"
    same_name = unit.transfers.by_name(bank, "in", fetched.name)
    if same_name:
        detail = (f"same name as transfer {same_name[0].id} (sha256 "
                  f"{same_name[0].sha256[:12]}…) with other content; kept, not applied")
        _add(unit, bank, fetched, "conflict", at, detail)
        _audit(unit, bank, fetched, "file.conflict", at, detail)
        return "conflicts"
    if any(t.state == "processed" for t in unit.transfers.by_content(bank, "in",
                                                                     fetched.sha256)):
        _add(unit, bank, fetched, "duplicate", at, "content already processed under another "
             "name")
        return "duplicates"
    _add(unit, bank, fetched, "received", at, None)
    return "process"


def _add(unit: UnitOfWork, bank: str, fetched: _Fetched, state: str, at: datetime,
         detail: str | None) -> None:
    unit.transfers.add(bank=bank, direction="in", name=fetched.name, sha256=fetched.sha256,
                       size=fetched.size, kind=fetched.kind, remote_mtime=fetched.mtime,
                       at=at, state=state, detail=detail, done=state in DONE)


def _process(uow: UowFactory, bank: str, fetched: _Fetched, now: Callable[[], datetime],
             done: Collected) -> None:
    # deferred: formats.parse pulls in openpyxl (~0.15 s); every process imports this module
    from bankgate.formats.parse import read_statement_file

    kind = fetched.kind or _detected(fetched.content)
    origin = f"files:{bank}/{fetched.name}"
    try:
        if kind in _STATUS:
            reports = (status_reports(fetched.content, origin) if kind == "pain.002" else
                       return_reports(read_statement_file(fetched.content, origin)[1],
                                      fetched.content))
            done.orders_moved += in_transaction(
                uow, lambda u: _apply(u, bank, fetched, reports, now(),
                                      final=kind not in _STATEMENTS))
        if kind in _STATEMENTS or (kind or "").startswith("csv:"):
            imported = import_statement_file(uow=uow, content=fetched.content, origin=origin,
                                             now=now)
            done.new_entries += imported.new_entries
            in_transaction(uow, lambda u: _mark(u, bank, fetched, "processed", now(),
                                                f"{imported.new_entries} new entries"))
        elif kind not in _STATUS:
            in_transaction(uow, lambda u: _mark(u, bank, fetched, "ignored", now(),
                                                f"not a file bankgate reads ({kind})"))
            return
    except (FormatError, NotFound) as exc:
        why = str(exc)[:500]
        in_transaction(uow, lambda u: _mark(u, bank, fetched, "unreadable", now(), why))
        done.unreadable += 1
        return
    done.processed += 1


def _apply(unit: UnitOfWork, bank: str, fetched: _Fetched, reports: list[StatusReport],
           at: datetime, *, final: bool) -> int:
    """Apply a status file's reports to this bank's orders and, when `final`, mark it
    processed in the same transaction (a camt.054 is marked after its import)."""
    held = unit.transfers.get(bank, "in", fetched.name, fetched.sha256, lock=True)
    if held is None or held.state in DONE:
        return 0  # another collector did it meanwhile
    orders = {iid: order for iid, order in unit.orders.by_instruction_ids(
        [r.instruction_id for r in reports]).items()
        if unit.accounts.get(order.debtor).bank == bank}
    changes = Changes(at=at, actor=f"bank:{bank}")
    applied = apply_reports(changes, orders, [r for r in reports if r.instruction_id in orders],
                            via="file")
    changes.flush(unit)
    if final:
        unit.transfers.mark(held, "processed", at=at, detail=f"{applied.moved} transitions")
    return applied.moved


def _mark(unit: UnitOfWork, bank: str, fetched: _Fetched, state: str, at: datetime,
          detail: str) -> None:
    held = unit.transfers.get(bank, "in", fetched.name, fetched.sha256, lock=True)
    if held is not None and held.state not in DONE:
        unit.transfers.mark(held, state, at=at, detail=detail)


def sync_outbound(*, uow: UowFactory, channel: FileExchange, now: Callable[[], datetime],
                  too_large: list[str] | None = None) -> int:
    """Record each of our delivered files the store does not know yet, by name and hash."""
    marked = 0
    for remote in channel.outbound():
        if remote.size > channel.max_file_bytes:
            if too_large is not None:
                too_large.append(f"{channel.bank}:out/{remote.name}")
            continue
        with uow() as unit:
            known = unit.transfers.by_name(channel.bank, "out", remote.name)
        if any(t.size == remote.size for t in known):
            continue
        content = channel.fetch_outbound(remote.name)
        marked += in_transaction(uow, partial(_uploaded, bank=channel.bank, remote=remote,
                                              content=content, at=now()))
    return marked


def _uploaded(unit: UnitOfWork, *, bank: str, remote: RemoteFile, content: bytes,
              at: datetime) -> int:
    digest = sha256(content)
    unit.statements.archive_raw(content, name=f"{bank}/{remote.name}", origin=f"files:{bank}",
                                at=at)
    batch = remote.name.removeprefix("PAIN001_").removesuffix(".xml")
    added = unit.transfers.add(bank=bank, direction="out", name=remote.name, sha256=digest,
                               size=len(content), kind=kind_of(remote.name) or "pain.001",
                               state="uploaded", at=at, batch_id=batch[:40],
                               remote_mtime=remote.mtime, done=True,
                               detail="found in the bank's directory by name and hash")
    return int(added)


def _detected(content: bytes) -> str | None:
    from bankgate.formats.parse import detect  # deferred, as in _process

    found = detect(content[:65536])
    if found is None:
        return None
    if found.startswith("mt94"):
        return "mt940"
    return found[:8] if found.startswith(("camt.", "pain.")) else found


def _audit(unit: UnitOfWork, bank: str, fetched: _Fetched, action: str, at: datetime,
           detail: str) -> None:
    unit.audit.append(AuditRecord(at=at, actor=f"bank:{bank}", action=action,
                                  subject_kind="file", subject_id=fetched.sha256[:40],
                                  detail={"name": fetched.name, "note": detail}))


def _audit_refused(uow: UowFactory, bank: str, names: tuple[str, ...],
                   too_large: tuple[str, ...], at: datetime) -> None:
    def shown(found: tuple[str, ...]) -> list[str]:
        return [n.encode("unicode_escape").decode("ascii")[:80] for n in found]
    records = [AuditRecord(at=at, actor=f"bank:{bank}", action=action, subject_kind="file",
                           subject_id=bank, detail={"names": shown(found), "why": why})
               for action, found, why in (
                   ("file.name_refused", names, "not a plain file name"),
                   ("file.too_large", too_large, "over max_file_bytes; not fetched"))
               if found]
    in_transaction(uow, lambda u: u.audit.append_many(records))


def transfer_counts(*, uow: UowFactory, bank: str) -> dict[str, dict[str, int]]:
    """How many files went each way, by kind and state: {"out": {"pain.001 uploaded": 3}}."""
    counts: dict[str, dict[str, int]] = {"in": {}, "out": {}}
    with uow() as unit:
        for transfer in unit.transfers.all(bank=bank):
            key = f"{transfer.kind or 'other'} {transfer.state}"
            side = counts[transfer.direction]
            side[key] = side.get(key, 0) + 1
    return counts


def list_transfers(*, uow: UowFactory, bank: str | None = None) -> list[dict[str, object]]:
    """Every file transfer (oldest first) as plain rows, without the bytes."""
    with uow() as unit:
        return [{"id": t.id, "bank": t.bank, "direction": t.direction, "name": t.name,
                 "kind": t.kind, "state": t.state, "sha256": t.sha256, "size": t.size,
                 "batch_id": t.batch_id, "detail": t.detail,
                 "first_seen_at": t.first_seen_at.isoformat(),
                 "done_at": t.done_at.isoformat() if t.done_at else None}
                for t in unit.transfers.all(bank=bank)]
