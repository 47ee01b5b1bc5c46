"""Read and validate a policy file (TOML, `schema = 1`) into a `Policy`; see docs/policy.md.

Everything is checked on load and the first problem is named by its path in the file
(`tier[2].require.approvals`): unknown keys, amounts that are not decimal strings, a tier
that needs approvals but names nobody who may give them, tiers that overlap (two tiers for
one order would make the outcome depend on their order in the file). A bad file raises
`PolicyError`; the caller keeps the policy it had.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from datetime import time
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bankgate.domain.payments import FlowType
from bankgate.errors import PolicyError
from bankgate.policy.model import (
    ALL_DUTIES,
    AmountBand,
    Duty,
    Escalation,
    PayeeStatus,
    Policy,
    Release,
    Requirement,
    Role,
    Tier,
)
from bankgate.policy.predicates import PARAMS, REQUIRED_PARAMS, SIGNALS

__all__ = ["BUILTIN", "builtin_policy", "builtin_policy_text", "load_policy"]

SCHEMA: Final = 1
BUILTIN: Final = ("default", "straight-through", "demo")
_TOP: Final = {"schema", "name", "timezone", "unmatched", "tier", "escalation"}
_TIER: Final = {"id", "description", "flows", "currencies", "amount_at_least", "amount_below",
                "channels", "payee", "require"}
_ESCALATION: Final = {"id", "description", "signal", "params", "require"}
_REQUIRE: Final = {"approvals", "roles", "step_up", "token_signature", "bank_confirmation",
                   "release", "duties"}
_Table = Mapping[str, object]
_E = TypeVar("_E", Role, Duty, FlowType)


def builtin_policy_text(name: str) -> bytes:
    """The bytes of a policy shipped with bankgate (`default`, `straight-through`)."""
    if name not in BUILTIN:
        raise PolicyError(f"no built-in policy {name!r} (built-in: {', '.join(BUILTIN)})")
    return (resources.files("bankgate.policy") / "builtin" / f"{name}.toml").read_bytes()


def builtin_policy(name: str) -> Policy:
    """A shipped policy, loaded and validated."""
    return load_policy(builtin_policy_text(name), origin=f"builtin:{name}")


def load_policy(content: bytes, *, origin: str) -> Policy:
    """The policy in `content`, validated; PolicyError names the first problem and its path."""
    try:
        raw = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{origin}: not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return _policy(raw, hashlib.sha256(content).hexdigest())
    except _Bad as exc:
        raise PolicyError(f"{origin}: {exc.path}: {exc.message}") from None


class _Bad(Exception):
    def __init__(self, path: str, message: str) -> None:
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}")


def _policy(raw: _Table, digest: str) -> Policy:
    _known(raw, _TOP, "policy")
    schema = raw.get("schema")
    if schema != SCHEMA:
        raise _Bad("schema", f"must be {SCHEMA}, got {schema!r}")
    name = _text(raw, "name", "policy")
    zone = _zone(raw.get("timezone", "Asia/Shanghai"))
    if "unmatched" not in raw:
        raise _Bad("unmatched", "is required: what orders that no tier covers need")
    tiers = tuple(_tier(t, f"tier[{i}]") for i, t in enumerate(_tables(raw, "tier")))
    _no_duplicate_ids([t.id for t in tiers], "tier")
    _no_overlaps(tiers)
    escalations = tuple(_escalation(e, f"escalation[{i}]", zone)
                        for i, e in enumerate(_tables(raw, "escalation")))
    _no_duplicate_ids([e.id for e in escalations], "escalation")
    return Policy(name=name, schema=SCHEMA, hash=digest, timezone=zone, tiers=tiers,
                  escalations=escalations,
                  unmatched=_requirement(_table(raw, "unmatched", "policy"), "unmatched"))


def _tier(raw: object, path: str) -> Tier:
    table = _as_table(raw, path)
    _known(table, _TIER, path)
    currencies = _strings(table, "currencies", path)
    band = AmountBand(_decimal(table.get("amount_at_least"), f"{path}.amount_at_least"),
                      _decimal(table.get("amount_below"), f"{path}.amount_below"))
    if (band.at_least is not None or band.below is not None) and currencies is None:
        raise _Bad(f"{path}.currencies", "an amount band needs the currencies it is in")
    if band.at_least is not None and band.below is not None and band.below <= band.at_least:
        raise _Bad(f"{path}.amount_below", f"{band.below} is not above amount_at_least")
    payee = table.get("payee")
    if payee is not None and payee not in set(PayeeStatus):
        raise _Bad(f"{path}.payee", f"{payee!r} is not 'new' or 'known'")
    return Tier(id=_text(table, "id", path), path=path,
                description=str(table.get("description", "")),
                flows=_flows(table, path), currencies=currencies, amount=band,
                channels=_strings(table, "channels", path),
                payee=PayeeStatus(payee) if isinstance(payee, str) else None,
                requirement=_requirement(_table(table, "require", path), f"{path}.require"))


def _escalation(raw: object, path: str, zone: str) -> Escalation:
    table = _as_table(raw, path)
    _known(table, _ESCALATION, path)
    signal = _text(table, "signal", path)
    if signal not in SIGNALS:
        raise _Bad(f"{path}.signal", f"{signal!r} is not one of {', '.join(SIGNALS)}")
    params = dict(_params(_table(table, "params", path, required=False), signal,
                          f"{path}.params"))
    for needed in REQUIRED_PARAMS.get(signal, ()):
        if needed not in params:
            raise _Bad(f"{path}.params.{needed}", f"is required by signal {signal!r}")
    if signal == "unusual_time":
        params["timezone"] = zone
    return Escalation(id=_text(table, "id", path), path=path, signal=signal, params=params,
                      requirement=_requirement(_table(table, "require", path),
                                               f"{path}.require", duties_default=frozenset()))


def _params(raw: _Table, signal: str, path: str) -> dict[str, object]:
    kinds = PARAMS[signal]
    _known(raw, set(kinds), path)
    out: dict[str, object] = {}
    for key, value in raw.items():
        where = f"{path}.{key}"
        kind = kinds[key]
        if kind == "amounts":
            table = _as_table(value, where)
            out[key] = {cur: _decimal(v, f"{where}.{cur}") for cur, v in table.items()}
        elif kind == "decimal":
            out[key] = _decimal(value, where)
        elif kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _Bad(where, f"must be a whole number ≥ 0, got {value!r}")
            out[key] = value
        elif kind == "time":
            out[key] = _time(value, where)
        else:
            out[key] = tuple(_string_list(value, where))
    return out


def _requirement(raw: _Table, path: str, *,
                 duties_default: frozenset[Duty] = ALL_DUTIES) -> Requirement:
    _known(raw, _REQUIRE, path)
    approvals = raw.get("approvals", 0)
    if not isinstance(approvals, int) or isinstance(approvals, bool) or not 0 <= approvals <= 9:
        raise _Bad(f"{path}.approvals", f"must be a whole number 0-9, got {approvals!r}")
    roles = frozenset(_enum_list(raw.get("roles", []), Role, f"{path}.roles"))
    if approvals and not roles and duties_default:
        raise _Bad(f"{path}.roles", f"{approvals} approval(s) required but no role may "
                   "give them (a tier without approvers)")
    release = raw.get("release", "auto")
    if release not in set(Release):
        raise _Bad(f"{path}.release", f"{release!r} is not 'auto' or 'releaser'")
    duties = raw.get("duties")
    return Requirement(
        approvals=approvals, roles=roles,
        step_up=_flag(raw, "step_up", path), token_signature=_flag(raw, "token_signature", path),
        bank_confirmation=_flag(raw, "bank_confirmation", path), release=Release(str(release)),
        duties=(duties_default if duties is None
                else frozenset(_enum_list(duties, Duty, f"{path}.duties"))))


def _no_overlaps(tiers: tuple[Tier, ...]) -> None:
    for i, later in enumerate(tiers):
        for earlier in tiers[:i]:
            if _overlap(earlier, later):
                raise _Bad(later.path, f"tier {later.id!r} overlaps {earlier.path} "
                           f"{earlier.id!r}: some order would match both (narrow one by "
                           "flows, currencies, amount band, channels or payee)")


def _overlap(a: Tier, b: Tier) -> bool:
    def meet(x: frozenset[str] | frozenset[FlowType] | None,
             y: frozenset[str] | frozenset[FlowType] | None) -> bool:
        return x is None or y is None or bool(set(x) & set(y))

    return (meet(a.flows, b.flows) and meet(a.currencies, b.currencies)
            and meet(a.channels, b.channels)
            and (a.payee is None or b.payee is None or a.payee == b.payee)
            and a.amount.overlaps(b.amount))


def _no_duplicate_ids(ids: list[str], kind: str) -> None:
    for i, ident in enumerate(ids):
        if ident in ids[:i]:
            raise _Bad(f"{kind}[{i}].id", f"{ident!r} is used twice")


def _known(table: _Table, allowed: set[str], path: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _Bad(f"{path}.{unknown[0]}" if path != "policy" else unknown[0],
                   f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _as_table(value: object, path: str) -> _Table:
    if not isinstance(value, Mapping):
        raise _Bad(path, f"must be a table, got {type(value).__name__}")
    return value


def _table(raw: _Table, key: str, path: str, *, required: bool = True) -> _Table:
    where = key if path == "policy" else f"{path}.{key}"
    if key not in raw:
        if required:
            raise _Bad(where, "is required")
        return {}
    return _as_table(raw[key], where)


def _tables(raw: _Table, key: str) -> list[object]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise _Bad(key, f"must be an array of tables ([[{key}]])")
    return value


def _text(raw: _Table, key: str, path: str) -> str:
    value = raw.get(key)
    where = key if path == "policy" else f"{path}.{key}"
    if not isinstance(value, str) or not value.strip():
        raise _Bad(where, "is required text")
    return value


def _flag(raw: _Table, key: str, path: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise _Bad(f"{path}.{key}", f"must be true or false, got {value!r}")
    return value


def _decimal(value: object, path: str) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(path, f"{value!r} is a {type(value).__name__}; write amounts as decimal "
                   'strings like "50000.00"')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _Bad(path, f"{value!r} is not a decimal") from None
    if not amount.is_finite() or amount < 0 or "e" in value.lower():
        raise _Bad(path, f"{value!r} is not a plain non-negative decimal")
    return amount


def _time(value: object, path: str) -> time:
    if isinstance(value, time):
        return value
    try:
        if isinstance(value, str):
            return time.fromisoformat(value)
    except ValueError:
        pass
    raise _Bad(path, f"{value!r} is not a time like \"08:00\"")


def _zone(value: object) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad("timezone", f"{value!r} is not an IANA time zone") from None
    return str(value)


def _string_list(value: object, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(path, "must be a list of strings")
    return [str(v) for v in value]


def _strings(raw: _Table, key: str, path: str) -> frozenset[str] | None:
    if key not in raw:
        return None
    values = _string_list(raw[key], f"{path}.{key}")
    if not values:
        raise _Bad(f"{path}.{key}", "is empty (leave it out to mean any)")
    return frozenset(values)


def _flows(raw: _Table, path: str) -> frozenset[FlowType] | None:
    if "flows" not in raw:
        return None
    return frozenset(_enum_list(raw["flows"], FlowType, f"{path}.flows"))


def _enum_list(value: object, kind: type[_E], path: str) -> list[_E]:
    names = _string_list(value, path)
    allowed = {e.value for e in kind}
    for name in names:
        if name not in allowed:
            raise _Bad(path, f"{name!r} is not one of {', '.join(sorted(allowed))}")
    return [kind(n) for n in names]
