"""The audit hash chain: each record's hash covers its content and the hash before it.

hash_n = H(prev_hash_n || 0x0A || content_n), with prev_hash_1 = 64 zeros and H = SHA-256 (or
SM3); content_n is the compact UTF-8 JSON array [seq, at (ISO 8601, UTC), actor, action,
subject_kind, subject_id, from_status, to_status, detail] — fixed order, so canonical by
construction (and cheaper than a sorted object: appends are on the payment path). Sequence
numbers are dense (1, 2, 3, …), assigned by the append path under the chain-head lock, so a
missing number is a deleted record. A chain alone does not stop someone who rewrites every
hash after an edit (a re-chain) or cuts the tail: an exported `Checkpoint` (sequence number
and hash, kept elsewhere, optionally signed) does; `find_break(..., checkpoint=)` checks both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bankgate.crypto.digest import DigestAlgorithm, hexdigest

__all__ = ["GENESIS", "Break", "BreakKind", "ChainedRecord", "Checkpoint", "content_bytes",
           "find_break", "link", "link_content", "verify"]

GENESIS: Final = "0" * 64


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainedRecord:
    """One audit row as stored: its content, the previous hash and its own hash."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    subject_kind: str
    subject_id: str
    from_status: str | None
    to_status: str | None
    detail: str  # the stored JSON text, hashed as is
    prev_hash: str | None
    hash: str | None

    def content(self) -> bytes:
        """The canonical bytes of everything but the hashes."""
        return content_bytes(self.seq, self.at, self.actor, self.action, self.subject_kind,
                             self.subject_id, self.from_status, self.to_status, self.detail)


_ENCODE: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                                  allow_nan=False).encode


def content_bytes(seq: int, at: dt.datetime, actor: str, action: str, subject_kind: str,
                  subject_id: str, from_status: str | None, to_status: str | None,
                  detail: str) -> bytes:
    """The canonical content of one record (what `ChainedRecord.content` returns)."""
    if at.tzinfo is not dt.UTC:
        if at.tzinfo is None:
            raise ValueError(f"record {seq}: naive datetime; use aware UTC")
        at = at.astimezone(dt.UTC)
    return _ENCODE([seq, at.isoformat(), actor, action, subject_kind, subject_id, from_status,
                    to_status, detail]).encode("utf-8")


def link_content(previous_hash: str, content: bytes,
                 algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> str:
    """The hash of a record's canonical `content` chained after `previous_hash`."""
    data = previous_hash.encode("ascii") + b"\n" + content
    if algorithm is DigestAlgorithm.SHA256:
        return hashlib.sha256(data).hexdigest()
    return hexdigest(data, algorithm)


def link(previous_hash: str, record: ChainedRecord,
         algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> str:
    """The hash of `record` chained after `previous_hash`."""
    return link_content(previous_hash, record.content(), algorithm)


class BreakKind(StrEnum):
    """How the chain is broken at the first bad record."""

    EDITED = "edited"  # the record's content does not give its hash
    DELETED = "deleted"  # sequence numbers missing before it
    LINK = "inserted or reordered"  # its previous hash is not the hash before it
    TRUNCATED = "truncated"  # the chain ends before the checkpoint (or the head)
    RECHAINED = "re-chained"  # the checkpoint's record has another hash now


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken record and why."""

    seq: int
    kind: BreakKind
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """An exported chain head: what the chain was at `seq` (and when it was exported)."""

    seq: int
    hash: str
    algorithm: DigestAlgorithm
    at: dt.datetime


def find_break(records: Iterable[ChainedRecord], *,
               algorithm: DigestAlgorithm = DigestAlgorithm.SHA256,
               after: Checkpoint | None = None,
               checkpoint: Checkpoint | None = None) -> Break | None:
    """The first broken record in `records` (ascending `seq`), or None if the chain holds.

    `after`: start from a trusted checkpoint (incremental verify) instead of the first
    record; `records` then start right after it. `checkpoint`: a later export the chain must
    still contain, hash for hash (catches tail truncation and a full re-chain).
    """
    previous_seq, previous_hash = (after.seq, after.hash) if after else (0, GENESIS)
    for record in records:
        found = _check_one(record, previous_seq, previous_hash, algorithm)
        if found:
            return found
        if checkpoint and record.seq == checkpoint.seq and record.hash != checkpoint.hash:
            return Break(record.seq, BreakKind.RECHAINED,
                         f"record {record.seq}: its hash differs from the checkpoint exported "
                         f"{checkpoint.at.isoformat()}; the chain was rewritten")
        previous_seq, previous_hash = record.seq, record.hash or ""
    if checkpoint and previous_seq < checkpoint.seq:
        return Break(previous_seq + 1, BreakKind.TRUNCATED,
                     f"the chain ends at record {previous_seq} but the checkpoint exported "
                     f"{checkpoint.at.isoformat()} has {checkpoint.seq}; records "
                     f"{previous_seq + 1}..{checkpoint.seq} are gone")
    return None


def verify(records: Iterable[ChainedRecord],
           algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> int | None:
    """The sequence number of the first broken record, or None if the chain holds."""
    found = find_break(records, algorithm=algorithm)
    return found.seq if found else None


def _check_one(record: ChainedRecord, previous_seq: int, previous_hash: str,
               algorithm: DigestAlgorithm) -> Break | None:
    seq = record.seq
    if record.hash is None or record.prev_hash is None:
        return Break(seq, BreakKind.EDITED, f"record {seq}: it has no hash (not chained)")
    if link(record.prev_hash, record, algorithm) != record.hash:
        return Break(seq, BreakKind.EDITED,
                     f"record {seq} ({record.action} {record.subject_kind} "
                     f"{record.subject_id}): its content does not match its hash; edited")
    if seq > previous_seq + 1:
        return Break(seq, BreakKind.DELETED,
                     f"record {seq}: records {previous_seq + 1}..{seq - 1} are missing; deleted")
    if seq <= previous_seq or record.prev_hash != previous_hash:
        return Break(seq, BreakKind.LINK,
                     f"record {seq}: its previous hash is not the hash of record "
                     f"{previous_seq}; a record was inserted or the order changed")
    return None
