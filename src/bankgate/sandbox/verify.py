"""The sandbox banks' account-name verification (户名核验): `POST /<bank>/v1/accounts/verify`.

Body `{"account": "...", "name": "...", "bank": "icbc" | null}` (bank: where the account is
held; null means this bank). Answer `{"account": "...", "result": R}` with R one of `match`,
`mismatch`, `closed`, `unknown_account`, or `not_covered` for a bank outside the sandbox
world. Names compare as the ledger compares them when it books (NFKC, case, spaces).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Final

from bankgate.sandbox import wire
from bankgate.sandbox.dialects import ErrorMeaning
from bankgate.sandbox.ledger import Ledger, same_name  # one rule for names, not two
from bankgate.sandbox.records import Refusal

__all__ = ["answer_verify"]

_ACCOUNT: Final = re.compile(r"[0-9A-Za-z]{1,34}")
_BANK: Final = re.compile(r"[a-z][a-z0-9_]{1,31}")
_NAME_MAX: Final = 140


def answer_verify(ledger: Ledger, banks: Collection[str], bank: str, body: bytes) -> dict[str, Any]:
    """The verification answer of `bank` for the request `body`; Refusal 400 if malformed."""
    account, name, held_at = _parse(wire.load_json(body), bank)
    return {"account": account, "bank": held_at,
            "result": _result(ledger, banks, held_at, account, name)}


def _parse(data: dict[str, Any], bank: str) -> tuple[str, str, str]:
    unknown = sorted(set(data) - {"account", "name", "bank"})
    if unknown:
        raise _invalid(f"{unknown[0]}: not a field of a verification request")
    account, name, held_at = data.get("account"), data.get("name"), data.get("bank")
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise _invalid("account: expected 1-34 letters or digits")
    if not isinstance(name, str) or not name.strip() or len(name) > _NAME_MAX:
        raise _invalid(f"name: expected text of 1-{_NAME_MAX} characters")
    if held_at is None:
        held_at = bank
    if not isinstance(held_at, str) or not _BANK.fullmatch(held_at):
        raise _invalid("bank: expected a bank id or null")
    return account, name, held_at


def _result(ledger: Ledger, banks: Collection[str], held_at: str, account: str,
            name: str) -> str:
    if held_at not in banks:
        return "not_covered"
    try:
        state = ledger.account(held_at, account)
    except Refusal:
        return "unknown_account"
    if not state.open:
        return "closed"
    return "match" if same_name(name, state.holder) else "mismatch"


def _invalid(message: str) -> Refusal:
    return Refusal(400, ErrorMeaning.INVALID_REQUEST, message)
