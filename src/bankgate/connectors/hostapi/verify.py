"""Account-name verification over the host API (户名核验): `POST /accounts/verify`.

A read: it moves no money, so any failure is `BankUnavailable` (safe to ask again). An answer
naming another account, or a result outside the protocol's five, is malformed.
"""

from __future__ import annotations

from typing import Any, Final

from bankgate.connectors.hostapi.client import HostApiClient
from bankgate.domain import AccountNumber, BankId
from bankgate.domain.verification import NameMatch
from bankgate.errors import BankUnavailable

__all__ = ["check_account_name"]

_RESULTS: Final = {m.value: m for m in NameMatch}


def check_account_name(client: HostApiClient, bank: str, account: AccountNumber, name: str,
                       held_at: BankId | None) -> NameMatch:
    """Ask `bank` whether `name` holds `account` (held at `held_at`, default the bank itself)."""
    body = {"account": account.reveal(), "name": name, "bank": held_at}
    answer = client.call("POST", "/accounts/verify", body=body, safe=True)
    return _result(answer.body, account, bank, answer.raw)


def _result(body: Any, account: AccountNumber, bank: str, raw: bytes) -> NameMatch:
    if not isinstance(body, dict) or body.get("account") != account.reveal():
        raise BankUnavailable(f"{bank}: malformed verification answer: it names another "
                              "account", raw=raw)
    found = _RESULTS.get(body.get("result"))  # type: ignore[arg-type]
    if found is None:
        raise BankUnavailable(f"{bank}: malformed verification answer: result "
                              f"{str(body.get('result'))[:40]!r} is not one of "
                              f"{', '.join(_RESULTS)}", raw=raw)
    return found
