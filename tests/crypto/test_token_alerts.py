"""A-12: a signing token the gateway locks after wrong PINs raises a critical alert (issue 5:
an alert, not only a log line). Real SoftHSM2 token, real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from bankgate.bootstrap import build_app
from bankgate.crypto.token import open_token
from bankgate.domain.alerts import AlertLevel
from bankgate.errors import TokenError
from bankgate.services.tokens import pin_guard
from bankgate.settings import Settings
from tests.crypto.conftest import SoftHsm


def test_a12_a_token_locked_after_wrong_pins_raises_one_critical_alert(
        softhsm: SoftHsm, store_url: str) -> None:
    """Real SoftHSM2 token; the gateway's own counter locks it (SoftHSM never does)."""
    app = build_app(Settings(db_url=store_url), {})
    try:
        guard = pin_guard(engine=app.engine, uow=app.uow, now=app.now, max_failures=3)
        label = softhsm.init_token()
        for _ in range(3):
            with pytest.raises(TokenError, match="wrong PIN"):
                open_token(softhsm.module, label, "000000", guard=guard)
        with pytest.raises(TokenError, match="locked after 3 wrong PINs"):
            open_token(softhsm.module, label, "000000", guard=guard)  # not even tried
        with app.uow() as unit:
            [alert] = unit.alerts.find()
    finally:
        app.close()
    assert (alert.kind, alert.level) == ("token.pin_locked", AlertLevel.CRITICAL)
    assert alert.subject.startswith(f"token {label}#")
    assert "locked after 3 wrong PINs" in alert.message
    assert "000000" not in alert.message  # INV-7: never the PIN
