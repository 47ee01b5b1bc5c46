"""I-04: a transaction that loses a deadlock (PostgreSQL 40P01, MariaDB 1213) is run again
whole, a bounded number of times, and its effect happens once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest

from bankgate.domain.alerts import AlertLevel, NewAlert
from bankgate.domain.audit_records import AuditRecord
from bankgate.services._tx import in_transaction
from bankgate.store import UnitOfWork, make_engine

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_i04_two_transactions_that_deadlock_both_take_effect_once(any_store_url: str) -> None:
    """Two workers lock the same two rows in opposite orders at the same moment; the
    server kills one of them; `in_transaction` runs that one again from the start."""
    if any_store_url.startswith("sqlite"):
        pytest.skip("SQLite locks the whole file: no row deadlock to lose")
    engine = make_engine(any_store_url)
    try:
        with UnitOfWork(engine) as unit:
            first, second = (unit.alerts.raise_(NewAlert(
                kind="test.lock", subject=name, level=AlertLevel.WARN, message=name), at=AT)[0]
                for name in ("a", "b"))
            unit.commit()
        both_hold_one = threading.Barrier(2, timeout=20)
        attempts: Counter[str] = Counter()
        errors: list[BaseException] = []

        def worker(name: str, order: tuple[int, int]) -> None:
            def work(unit: UnitOfWork) -> None:
                attempts[name] += 1
                unit.alerts.get(order[0], lock=True)
                if attempts[name] == 1:
                    both_hold_one.wait()  # the other holds its first row now
                unit.alerts.get(order[1], lock=True)
                unit.audit.append(AuditRecord(at=AT, actor=name, action="test.deadlock",
                                              subject_kind="request", subject_id=name))
            try:
                in_transaction(lambda: UnitOfWork(engine), work)
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=("one", (first.id, second.id))),
                   threading.Thread(target=worker, args=("two", (second.id, first.id)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert sorted(attempts.values()) == [1, 2]  # the server chose one; it ran again
        with UnitOfWork(engine) as unit:
            effects = [r["actor"] for r in unit.audit.for_subject("one")
                       + unit.audit.for_subject("two") if r["action"] == "test.deadlock"]
        assert sorted(effects) == ["one", "two"]  # each once
    finally:
        engine.dispose()
