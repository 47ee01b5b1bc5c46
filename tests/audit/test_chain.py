"""audit/chain.py on records in memory: link, verify, and the reasons it gives."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from bankgate.audit import GENESIS, BreakKind, ChainedRecord, Checkpoint, find_break, link, verify
from bankgate.crypto.digest import DigestAlgorithm

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def _chain(n: int, algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> list[ChainedRecord]:
    records, previous = [], GENESIS
    for seq in range(1, n + 1):
        bare = ChainedRecord(seq=seq, at=T0 + dt.timedelta(seconds=seq), actor="user:alice",
                             action="order.transition", subject_kind="order",
                             subject_id=f"ord-{seq}", from_status="approved",
                             to_status="released", detail='{"n":1}', prev_hash=previous,
                             hash=None)
        record = replace(bare, hash=link(previous, bare, algorithm))
        records.append(record)
        previous = record.hash or ""
    return records


def test_an_intact_chain_verifies_with_sha256_and_with_sm3() -> None:
    assert verify(_chain(20)) is None
    assert verify(_chain(20, DigestAlgorithm.SM3), DigestAlgorithm.SM3) is None
    assert _chain(2)[1].hash != _chain(2, DigestAlgorithm.SM3)[1].hash


def test_a13_an_edited_record_is_the_first_broken_one() -> None:
    records = _chain(10)
    records[4] = replace(records[4], to_status="settled")
    found = find_break(records)
    assert found is not None and (found.seq, found.kind) == (5, BreakKind.EDITED)


def test_a13_a_deleted_record_is_named_by_the_gap() -> None:
    records = _chain(10)
    del records[3]
    found = find_break(records)
    assert found is not None and (found.seq, found.kind) == (5, BreakKind.DELETED)
    assert "records 4..4 are missing" in found.message


def test_a13_records_reordered_break_the_chain_at_the_first_of_them() -> None:
    """Reordering in a table ordered by seq means swapping the sequence numbers."""
    records = _chain(10)
    records[2], records[3] = replace(records[3], seq=3), replace(records[2], seq=4)
    found = find_break(records)
    assert found is not None and (found.seq, found.kind) == (3, BreakKind.EDITED)
    shuffled = [records[0], records[1], _chain(10)[3], _chain(10)[2], *records[4:]]
    assert verify(shuffled) == 4  # read in the wrong order: 3 looks deleted


def test_a13_a_record_with_a_valid_hash_inserted_between_breaks_the_link() -> None:
    records = _chain(5)
    forged = replace(records[2], subject_id="ord-forged", prev_hash=records[1].hash)
    forged = replace(forged, hash=link(records[1].hash or "", forged))
    found = find_break([*records[:2], forged, *records[3:]])
    assert found is not None and found.seq == 4 and found.kind is BreakKind.LINK


def test_a13_a_truncated_tail_or_a_rechain_is_caught_only_against_a_checkpoint() -> None:
    records = _chain(10)
    checkpoint = Checkpoint(seq=10, hash=records[-1].hash or "",
                            algorithm=DigestAlgorithm.SHA256, at=T0)
    assert find_break(records[:7]) is None  # a chain alone cannot see a cut tail
    cut = find_break(records[:7], checkpoint=checkpoint)
    assert cut is not None and (cut.seq, cut.kind) == (8, BreakKind.TRUNCATED)
    rechained = _chain(10)
    rechained = [replace(r, detail='{"n":2}') for r in rechained]
    previous = GENESIS
    for i, record in enumerate(rechained):
        rechained[i] = replace(record, prev_hash=previous, hash=link(previous, record))
        previous = rechained[i].hash or ""
    assert find_break(rechained) is None
    found = find_break(rechained, checkpoint=checkpoint)
    assert found is not None and (found.seq, found.kind) == (10, BreakKind.RECHAINED)


def test_verifying_from_a_checkpoint_reads_only_what_follows_it() -> None:
    records = _chain(10)
    anchor = Checkpoint(seq=6, hash=records[5].hash or "", algorithm=DigestAlgorithm.SHA256,
                        at=T0)
    assert find_break(records[6:], after=anchor) is None
    tampered = [*records[6:8], replace(records[8], actor="user:mallory"), records[9]]
    found = find_break(tampered, after=anchor)
    assert found is not None and found.seq == 9
