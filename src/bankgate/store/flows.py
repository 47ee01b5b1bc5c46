"""The flows' repositories (issue 7), reached as `unit.flows.<name>`; rows ⇄ domain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bankgate.domain.verification import Check, CheckName, Verdict, Verification
from bankgate.store.claims import ClaimRepository, EmployeeRepository, NotificationRepository
from bankgate.store.payroll import PayrollRepository
from bankgate.store.receipts import ReceiptRepository
from bankgate.store.routes import RouteRepository
from bankgate.store.sealed import VERIFICATION, cipher_of
from bankgate.store.tables_flows import payee_verifications
from bankgate.store.transfers import TransferRepository

__all__ = ["FlowStore", "VerificationRepository"]

_pv = payee_verifications.c


class VerificationRepository:
    """Payee verifications: every check ever made, newest wins."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, items: Sequence[tuple[str, str, str, str, Verification]]) -> None:
        """Record (fingerprint, masked account, name, paying bank, verification) rows."""
        rows = [{"fingerprint": fp, "account_masked": masked[:40], "name": name[:140],
                 "via_bank": via, "passed": v.passed,
                 "reason": v.reason[:255] if v.reason else None,
                 "checks": _checks_json(v), "checked_at": v.checked_at}
                for fp, masked, name, via, v in items]
        if rows:
            self._conn.execute(payee_verifications.insert(), rows)

    def passed_since(self, fingerprints: Sequence[str], *,
                     since: datetime) -> dict[str, Verification]:
        """The latest passed verification per fingerprint made at or after `since`."""
        found: dict[str, Verification] = {}
        cipher = cipher_of(self._conn)
        for start in range(0, len(fingerprints), 500):
            chunk = list(fingerprints[start:start + 500])
            asked = {cipher.tag(fp, VERIFICATION): fp for fp in chunk}  # the stored tags
            rows = self._conn.execute(
                select(payee_verifications)
                .where(_pv.fingerprint.in_(chunk), _pv.checked_at >= since)
                .order_by(_pv.checked_at, _pv.id))
            for row in rows:  # later rows overwrite earlier ones: the latest wins
                if row.passed:
                    found[asked[row.fingerprint]] = _verification(row._mapping)
                else:
                    found.pop(asked[row.fingerprint], None)
        return found

    def latest(self, fingerprint: str) -> Verification | None:
        """The newest verification with this fingerprint, passed or not."""
        row = self._conn.execute(select(payee_verifications)
                                 .where(_pv.fingerprint == fingerprint)
                                 .order_by(_pv.checked_at.desc(), _pv.id.desc())).first()
        return None if row is None else _verification(row._mapping)


def _checks_json(verification: Verification) -> str:
    return json.dumps([{"name": c.name.value, "verdict": c.verdict.value, "detail": c.detail}
                       for c in verification.checks], ensure_ascii=False)


def _verification(row: Any) -> Verification:
    checks = tuple(Check(CheckName(c["name"]), Verdict(c["verdict"]), c["detail"])
                   for c in json.loads(row["checks"]))
    return Verification(checks=checks, checked_at=row["checked_at"])


class FlowStore:
    """The flows' repositories on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.verifications = VerificationRepository(conn)
        self.payroll = PayrollRepository(conn)
        self.employees = EmployeeRepository(conn)
        self.claims = ClaimRepository(conn)
        self.notifications = NotificationRepository(conn)
        self.routes = RouteRepository(conn)
        self.transfers = TransferRepository(conn)
        self.receipts = ReceiptRepository(conn)
