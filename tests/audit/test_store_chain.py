"""The chained audit log in the store, on SQLite and PostgreSQL: every tamper kind (A-13),
both-or-neither with the change it records (K-16), one chain under concurrent writers, and
`bankgate audit verify` / `export-head` (INV-5)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from bankgate.cli.main import cli
from bankgate.crypto.digest import DigestAlgorithm
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.software import encrypted_pem, generate_private_key
from bankgate.domain.audit_records import AuditRecord
from bankgate.errors import NotFound
from bankgate.services.audit import export_head, verify_chain
from bankgate.store import UnitOfWork, make_engine
from tests.builders import an_account

T0 = dt.datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def _record(n: int) -> AuditRecord:
    return AuditRecord(at=T0 + dt.timedelta(seconds=n), actor="user:alice",
                       action="order.transition", subject_kind="order", subject_id=f"ord-{n}",
                       from_status="approved", to_status="released", detail={"n": n})


def _append(engine: Engine, start: int, count: int) -> None:
    with UnitOfWork(engine) as unit:
        unit.audit.append_many([_record(n) for n in range(start, start + count)])
        unit.commit()


def _verify(engine: Engine, **kwargs: object) -> object:
    return verify_chain(uow=lambda: UnitOfWork(engine), **kwargs)  # type: ignore[arg-type]


def _sql(engine: Engine, statement: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement))


def test_inv5_appends_form_one_intact_chain_with_dense_sequence_numbers(engine: Engine) -> None:
    _append(engine, 1, 5)
    _append(engine, 6, 5)
    report = _verify(engine)
    assert report.broken is None and report.checked == 10 and report.head_seq == 10
    with UnitOfWork(engine) as unit:
        assert [r.seq for r in unit.audit.chain()] == list(range(1, 11))
        assert unit.audit.chain().__next__().at == T0 + dt.timedelta(seconds=1)


@pytest.mark.parametrize(("tamper", "seq", "kind"), [
    ("update audit_log set to_status = 'cancelled' where seq = 4", 4, "edited"),
    ("update audit_log set detail = '{\"n\": 99}' where seq = 7", 7, "edited"),
    ("delete from audit_log where seq = 5", 6, "deleted"),
    ("update audit_log set seq = 100 where seq = 3", 4, "deleted"),
])
def test_a13_audit_verify_names_the_first_tampered_record(engine: Engine, tamper: str, seq: int,
                                                          kind: str) -> None:
    _append(engine, 1, 10)
    _sql(engine, tamper)
    broken = _verify(engine).broken
    assert broken is not None and (broken.seq, str(broken.kind)) == (seq, kind)


def test_a13_reordered_records_are_caught(engine: Engine) -> None:
    _append(engine, 1, 6)
    _sql(engine, "update audit_log set seq = 1000 where seq = 3")
    _sql(engine, "update audit_log set seq = 3 where seq = 4")
    _sql(engine, "update audit_log set seq = 4 where seq = 1000")
    broken = _verify(engine).broken
    assert broken is not None and broken.seq == 3 and str(broken.kind) == "edited"


def test_a13_an_inserted_record_is_caught(engine: Engine) -> None:
    _append(engine, 1, 5)
    _sql(engine, "insert into audit_log (seq, at, actor, action, subject_kind, subject_id, "
                 "detail, prev_hash, hash) values (6, '2026-12-01 09:00:00', 'user:mallory', "
                 "'order.transition', 'order', 'ord-x', '{}', 'ab', 'cd')")
    broken = _verify(engine).broken
    assert broken is not None and broken.seq == 6


def test_a13_a_cut_tail_is_caught_by_the_head_and_by_a_checkpoint(engine: Engine,
                                                                   tmp_path: Path) -> None:
    _append(engine, 1, 8)
    checkpoint = export_head(uow=lambda: UnitOfWork(engine), now=T0)
    _sql(engine, "delete from audit_log where seq > 6")
    broken = _verify(engine).broken
    assert broken is not None and str(broken.kind) == "truncated"
    _sql(engine, "update audit_chain_head set seq = 6, hash = "
                 "(select hash from audit_log where seq = 6)")
    assert _verify(engine).broken is None  # head edited too: only the checkpoint knows
    path = tmp_path / "head.json"
    path.write_text(json.dumps(checkpoint))
    from bankgate.services.audit import read_checkpoint

    broken = _verify(engine, checkpoint=read_checkpoint(path)).broken
    assert broken is not None and (broken.seq, str(broken.kind)) == (7, "truncated")


def test_a13_a_fully_rechained_log_is_caught_by_the_checkpoint(engine: Engine,
                                                              tmp_path: Path) -> None:
    _append(engine, 1, 6)
    path = tmp_path / "head.json"
    path.write_text(json.dumps(export_head(uow=lambda: UnitOfWork(engine), now=T0)))
    _sql(engine, "delete from audit_log")
    _sql(engine, "delete from audit_chain_head")
    with UnitOfWork(engine) as unit:  # the attacker rewrites history with valid hashes
        unit.audit.append_many([_record(n) for n in range(1, 7) if n != 3] + [_record(99)])
        unit.commit()
    assert _verify(engine).broken is None
    from bankgate.services.audit import read_checkpoint

    broken = _verify(engine, checkpoint=read_checkpoint(path)).broken
    assert broken is not None and (broken.seq, str(broken.kind)) == (6, "re-chained")


def test_l07_incremental_verify_reads_only_records_after_the_checkpoint(engine: Engine,
                                                                       tmp_path: Path) -> None:
    from bankgate.services.audit import read_checkpoint

    _append(engine, 1, 50)
    path = tmp_path / "head.json"
    path.write_text(json.dumps(export_head(uow=lambda: UnitOfWork(engine), now=T0)))
    _append(engine, 51, 5)
    report = _verify(engine, checkpoint=read_checkpoint(path), incremental=True)
    assert report.broken is None and report.checked == 5 and report.first_seq == 51
    _sql(engine, "update audit_log set actor = 'user:mallory' where seq = 53")
    broken = _verify(engine, checkpoint=read_checkpoint(path), incremental=True).broken
    assert broken is not None and broken.seq == 53


def test_k16_an_audit_record_commits_with_its_change_or_not_at_all(engine: Engine) -> None:
    _append(engine, 1, 2)
    with pytest.raises(RuntimeError), UnitOfWork(engine) as unit:
        unit.accounts.add(an_account(), at=T0)
        unit.audit.append(_record(3))
        raise RuntimeError("crash before commit")
    with UnitOfWork(engine) as unit:
        assert unit.audit.count() == 2 and unit.audit.head()[0] == 2
        with pytest.raises(NotFound):
            unit.accounts.get(an_account().id)
        unit.accounts.add(an_account(), at=T0)
        unit.audit.append(_record(3))
        unit.commit()
    report = _verify(engine)
    assert report.broken is None and report.checked == 3


_KILLED_WRITER = textwrap.dedent("""
    import datetime as dt, sys, time
    from bankgate.domain.audit_records import AuditRecord
    from bankgate.store import UnitOfWork, make_engine
    unit = UnitOfWork(make_engine(sys.argv[1])).__enter__()
    unit.audit.append(AuditRecord(at=dt.datetime.now(dt.UTC), actor="system:killed",
                                  action="order.transition", subject_kind="order",
                                  subject_id="ord-killed"))
    print("appended, holding the chain head", flush=True)
    time.sleep(60)
""")


def test_k16_a_writer_killed_holding_the_chain_head_leaves_neither_its_record_nor_a_gap(
        engine: Engine, store_url: str) -> None:
    _append(engine, 1, 3)
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, store_url],
                             stdout=subprocess.PIPE, env=dict(os.environ))
    assert child.stdout is not None
    assert child.stdout.readline().startswith(b"appended")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    _append(engine, 4, 2)
    report = _verify(engine)
    assert report.broken is None and report.checked == 5
    with UnitOfWork(engine) as unit:
        assert unit.audit.for_subject("ord-killed") == []


def test_concurrent_writers_form_one_chain(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(10):
                _append(engine, 1000 * k + 10 * i, 3)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = _verify(engine)
    assert report.broken is None and report.checked == 120 and report.head_seq == 120


def test_the_chain_can_use_sm3(engine: Engine) -> None:
    with UnitOfWork(engine) as unit:
        unit.audit.start_chain(DigestAlgorithm.SM3)
        unit.commit()
    _append(engine, 1, 4)
    with UnitOfWork(engine) as unit:
        assert unit.audit.head()[2] is DigestAlgorithm.SM3
    assert _verify(engine).broken is None
    _sql(engine, "update audit_log set actor = 'user:bob' where seq = 2")
    assert _verify(engine).broken.seq == 2


def test_cli_audit_verify_exits_0_when_intact_and_1_naming_the_broken_record(
        engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKGATE_DB_URL", store_url)
    _append(engine, 1, 4)
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 4 records" in ok.output
    _sql(engine, "update audit_log set subject_id = 'ord-other' where seq = 2")
    bad = runner.invoke(cli, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "audit chain broken at record 2 (edited)" in bad.output
    assert "Traceback" not in bad.output


def test_cli_export_head_signs_and_verify_checks_the_signed_checkpoint(
        engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_private_key(Algorithm.ECDSA_P256_SHA256)
    (tmp_path / "audit-key.pem").write_bytes(encrypted_pem(key, b"pw"))
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    (tmp_path / "audit-pub.pem").write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    monkeypatch.setenv("BANKGATE_DB_URL", store_url)
    monkeypatch.setenv("BANKGATE_AUDIT_KEY_PASSWORD", "pw")
    _append(engine, 1, 3)
    runner = CliRunner()
    head = tmp_path / "head.json"
    out = runner.invoke(cli, ["audit", "export-head", "--out", str(head), "--key",
                              str(tmp_path / "audit-key.pem")])
    assert out.exit_code == 0 and "(signed)" in out.output
    args = ["audit", "verify", "--checkpoint", str(head), "--public-key",
            str(tmp_path / "audit-pub.pem")]
    assert runner.invoke(cli, args).exit_code == 0
    assert runner.invoke(cli, [*args, "--incremental"]).exit_code == 0
    document = json.loads(head.read_text())
    document["seq"] = 2  # a forged checkpoint that would hide record 3
    head.write_text(json.dumps(document))
    forged = runner.invoke(cli, args)
    assert forged.exit_code == 1 and "does not verify" in forged.output
    _sql(engine, "delete from audit_log where seq = 3")
    document["seq"] = 3
    head.write_text(json.dumps({k: v for k, v in document.items() if k != "signature"}))
    cut = runner.invoke(cli, ["audit", "verify", "--checkpoint", str(head)])
    assert cut.exit_code == 1 and "truncated" in cut.output


def test_the_chain_holds_on_every_store_mariadb_too(any_store_url: str) -> None:
    """MariaDB keeps whole seconds in DATETIME: the hash covers what is stored."""
    engine = make_engine(any_store_url)
    try:
        _append(engine, 1, 5)
        assert _verify(engine).broken is None
        _sql(engine, "update audit_log set actor = 'user:eve' where seq = 2")
        assert _verify(engine).broken.seq == 2
    finally:
        engine.dispose()


def test_i08_a_clock_that_jumps_back_neither_reorders_nor_breaks_the_chain(engine: Engine
                                                                           ) -> None:
    """I-08: the wall clock is set back an hour between two writes. The sequence numbers
    order the chain, not the timestamps: it verifies, reads back in the order written, and
    the earlier-stamped record is still the later link."""
    _append(engine, 1, 3)
    with UnitOfWork(engine) as unit:  # the clock went back: stamped an hour before the others
        unit.audit.append(replace(_record(4), at=T0 - dt.timedelta(hours=1)))
        unit.commit()
    _append(engine, 5, 2)
    report = _verify(engine)
    assert report.broken is None and report.checked == 6
    with UnitOfWork(engine) as unit:
        chain = list(unit.audit.chain())
        by_subject = unit.audit.for_subject("ord-4")
    assert [r.seq for r in chain] == list(range(1, 7))
    assert [r.subject_id for r in chain] == [f"ord-{n}" for n in range(1, 7)]
    assert chain[3].at < chain[0].at and by_subject[0]["seq"] == 4
