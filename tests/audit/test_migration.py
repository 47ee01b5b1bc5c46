"""Migration 0004 chains the audit records a store already has (renumbered densely)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bankgate.services.audit import verify_chain
from bankgate.store import UnitOfWork, make_engine, migrate


def test_rows_written_before_the_chain_are_numbered_and_chained_on_upgrade(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrate(engine, "0001")
        with engine.begin() as conn:
            for seq in (1, 2, 5, 9):  # gaps as rolled-back inserts leave them
                conn.execute(text(
                    "insert into audit_log (seq, at, actor, action, subject_kind, subject_id, "
                    "detail) values (:seq, '2026-11-30 08:00:00.250000', 'system:old', "
                    "'order.transition', 'order', :subject, '{}')"),
                    {"seq": seq, "subject": f"ord-{seq}"})
        migrate(engine)
        report = verify_chain(uow=lambda: UnitOfWork(engine))
        assert report.broken is None and report.checked == 4 and report.head_seq == 4
        with UnitOfWork(engine) as unit:
            assert [r.subject_id for r in unit.audit.chain()] == ["ord-1", "ord-2", "ord-5",
                                                                  "ord-9"]
    finally:
        engine.dispose()
