"""Audit chain use cases: verify the chain (whole, or on from a checkpoint), export its head.

A checkpoint is a small JSON document — sequence number, hash, digest, time — optionally
signed with a software key; kept outside the database (another machine, a ticket, a
timestamping service), it is what detects a truncated tail or a re-chained log.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bankgate.audit.chain import GENESIS, Break, BreakKind, ChainedRecord, Checkpoint, find_break
from bankgate.crypto.digest import DigestAlgorithm, canonical_bytes
from bankgate.crypto.signer import Signer, Verifier
from bankgate.crypto.software import SoftwareSigner, SoftwareVerifier
from bankgate.errors import ConfigError, SignatureInvalid
from bankgate.store import UnitOfWork, make_engine

__all__ = ["CHECKPOINT_VERSION", "VerifyReport", "export_head", "read_checkpoint",
           "verify_chain", "verify_store", "write_checkpoint"]

CHECKPOINT_VERSION = "bankgate-audit-checkpoint/1"
UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `audit verify` found: how many records it read, the head, the first break."""

    checked: int
    first_seq: int
    head_seq: int
    broken: Break | None


def verify_chain(*, uow: UowFactory, checkpoint: Checkpoint | None = None,
                 incremental: bool = False) -> VerifyReport:
    """Verify the audit chain in one read transaction.

    With `incremental`, start at `checkpoint` (trusted) and read only the records after it;
    otherwise read them all and, given a checkpoint, require it to be contained.
    """
    with uow() as unit:
        head = unit.audit.head()
        algorithm = head[2] if head else DigestAlgorithm.SHA256
        if checkpoint and checkpoint.algorithm != algorithm:
            raise ConfigError(f"checkpoint digest {checkpoint.algorithm} is not the chain's "
                              f"{algorithm}")
        counted = _Counter()
        if incremental and checkpoint:
            counted.last_seq, counted.last_hash = checkpoint.seq, checkpoint.hash
            anchor = unit.audit.record_at(checkpoint.seq)
            broken = _anchor_break(anchor, checkpoint) or find_break(
                counted.over(unit.audit.chain(after_seq=checkpoint.seq)),
                algorithm=algorithm, after=checkpoint)
            first = checkpoint.seq + 1
        else:
            broken = find_break(counted.over(unit.audit.chain()), algorithm=algorithm,
                                checkpoint=checkpoint)
            first = 1
        if broken is None and head:
            broken = _head_break(head[0], head[1], counted.last_seq, counted.last_hash)
    return VerifyReport(counted.count, first, head[0] if head else 0, broken)


def verify_store(db_url: str, *, checkpoint_file: Path | None = None,
                 public_key_file: Path | None = None, incremental: bool = False) -> VerifyReport:
    """`verify_chain` on the store at `db_url`, checkpoint read from a file (for the CLI)."""
    verifier = (SoftwareVerifier.from_public_pem(public_key_file.read_bytes(),
                                                 where=str(public_key_file))
                if public_key_file else None)
    checkpoint = read_checkpoint(checkpoint_file, verifier) if checkpoint_file else None
    engine = make_engine(db_url)
    try:
        return verify_chain(uow=lambda: UnitOfWork(engine), checkpoint=checkpoint,
                            incremental=incremental)
    finally:
        engine.dispose()


def export_head(*, uow: UowFactory, now: dt.datetime, signer: Signer | None = None
                ) -> dict[str, Any]:
    """The checkpoint document for the chain head as it is now (signed if a signer is given)."""
    with uow() as unit:
        head = unit.audit.head()
    seq, head_hash, algorithm = head or (0, "0" * 64, DigestAlgorithm.SHA256)
    document: dict[str, Any] = {"version": CHECKPOINT_VERSION, "seq": seq, "hash": head_hash,
                                "algorithm": str(algorithm), "at": now.isoformat()}
    if signer:
        document["signature"] = {
            "algorithm": str(signer.algorithm), "key_id": signer.key_id,
            "value": base64.b64encode(signer.sign(canonical_bytes(document))).decode()}
    return document


def write_checkpoint(db_url: str, path: Path, *, now: dt.datetime, key_file: Path | None = None,
                     password: str = "") -> dict[str, Any]:
    """Export the head of the store at `db_url` to `path`, signed with `key_file` if given."""
    signer = (SoftwareSigner.from_pem(key_file.read_bytes(), password.encode(),
                                      where=str(key_file)) if key_file else None)
    engine = make_engine(db_url)
    try:
        document = export_head(uow=lambda: UnitOfWork(engine), now=now, signer=signer)
    finally:
        engine.dispose()
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def read_checkpoint(path: Path, verifier: Verifier | None = None) -> Checkpoint:
    """Read a checkpoint file; with `verifier`, its signature must hold.

    Raises:
        ConfigError: unreadable or malformed. SignatureInvalid: unsigned or forged.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        signature = document.pop("signature", None)
        if document["version"] != CHECKPOINT_VERSION:
            raise ValueError(f"version {document['version']!r}")
        checkpoint = Checkpoint(seq=int(document["seq"]), hash=str(document["hash"]),
                                algorithm=DigestAlgorithm(document["algorithm"]),
                                at=dt.datetime.fromisoformat(document["at"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a bankgate audit checkpoint ({exc})") from exc
    if verifier:
        if not signature:
            raise SignatureInvalid(f"{path}: the checkpoint is not signed")
        verifier.verify(canonical_bytes(document), base64.b64decode(signature["value"]))
    return checkpoint


class _Counter:
    """Counts records as `find_break` reads them, remembering the last one."""

    def __init__(self) -> None:
        self.count, self.last_seq, self.last_hash = 0, 0, GENESIS

    def over(self, records: Iterable[ChainedRecord]) -> Iterator[ChainedRecord]:
        for record in records:
            self.count += 1
            self.last_seq, self.last_hash = record.seq, record.hash or ""
            yield record


def _anchor_break(anchor: ChainedRecord | None, checkpoint: Checkpoint) -> Break | None:
    if anchor is None:
        return Break(checkpoint.seq, BreakKind.TRUNCATED,
                     f"record {checkpoint.seq} of the checkpoint is gone; the log was cut")
    if anchor.hash != checkpoint.hash:
        return Break(checkpoint.seq, BreakKind.RECHAINED,
                     f"record {checkpoint.seq}: its hash differs from the checkpoint; the "
                     "chain was rewritten")
    return None


def _head_break(head_seq: int, head_hash: str, last_seq: int, last_hash: str) -> Break | None:
    if head_seq != last_seq or head_hash != last_hash:
        return Break(min(head_seq, last_seq) + 1, BreakKind.TRUNCATED,
                     f"the chain head records {head_seq} records but the log ends at "
                     f"{last_seq}; records were removed from the tail or the head was edited")
    return None
