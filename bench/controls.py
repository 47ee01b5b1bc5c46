"""L-03: what the controls cost a 10,000-order release, stage by stage, in one run.

Each scenario releases N orders (default 10,000) in a fresh store, from creation to
`released` (the bank side is L-01/L-02):

  a  straight-through                 create (policy evaluated and released at creation)
  b  1 approval + TOTP step-up         + approvals in bulk, + release by a releaser (step-up)
  c  b + token signature, five ways:   one manifest signature (SoftHSM2 P-256, software
                                       P-256) or one signature per order (SoftHSM2, software)

Stages: create (includes policy evaluation and routing), policy evaluation (the pure
`evaluate` over the orders, for its share), signing (by the approver's key: the manifest's
hashing and one signature, or N signatures), approvals (`services.approvals.approve` in
chunks, one TOTP code each, signatures checked there), step-up (one TOTP check, times the
number of chunks), release (`services.approvals.release` in chunks, one code each).

    .venv/bin/python bench/controls.py [--orders 10000] [--chunk 1000] [--stores sqlite]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from cryptography.hazmat.primitives import serialization

from bankgate.bootstrap import App, build_app
from bankgate.crypto.manifest import build_manifest, sign_manifest
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.software import SoftwareSigner, generate_private_key
from bankgate.domain.approvals import canonical_order_bytes, order_hash
from bankgate.policy import Facts, evaluate
from bankgate.services.approvals import approve, release
from bankgate.services.dispatch import failing_controls
from bankgate.services.intake import parse_order
from bankgate.services.payments import create_orders
from bankgate.services.policies import policy_in_force
from bankgate.services.users import (
    confirm_totp,
    create_user,
    enrol_totp,
    register_signing_key,
    verify_step_up,
)
from bankgate.settings import Settings

ACCOUNT = {"id": "acc-icbc", "bank": "icbc", "number": "6222020200001000001",
           "currency": "CNY", "name": "示例科技有限公司"}
POLICIES = {
    "a": 'schema = 1\nname = "straight-through"\n[unmatched]\napprovals = 0\n',
    "b": ('schema = 1\nname = "one-approval"\n[unmatched]\napprovals = 1\n'
          'roles = ["approver"]\nstep_up = true\nrelease = "releaser"\n'),
    "c": ('schema = 1\nname = "token"\n[unmatched]\napprovals = 1\nroles = ["approver"]\n'
          'step_up = true\ntoken_signature = true\nrelease = "releaser"\n'),
}
SCENARIOS = (("a straight-through", "a", None), ("b 1 approval + step-up", "b", None),
             ("c + manifest, SoftHSM2 P-256", "c", ("token", "manifest")),
             ("c + manifest, software P-256", "c", ("software", "manifest")),
             ("c + per order, SoftHSM2 P-256", "c", ("token", "each")),
             ("c + per order, software P-256", "c", ("software", "each")))
PG = "postgresql+psycopg://127.0.0.1:5432/test"
STAGES = ("create", "evaluation", "signing", "approvals", "step-up", "release", "gate")


class Clock:
    """The gateway's clock; moved 30 s before each TOTP code so every code is fresh."""

    def __init__(self) -> None:
        self.at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def tick(self) -> None:
        self.at += timedelta(seconds=30)


@dataclass
class Person:
    user: Any
    totp: pyotp.TOTP
    clock: Clock

    def code(self) -> str:
        self.clock.tick()
        return self.totp.at(self.clock())


@dataclass
class Result:
    name: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:  # evaluation is inside create; not added twice
        return sum(v for k, v in self.seconds.items() if k != "evaluation")


def _person(app: App, clock: Clock, name: str, role: str) -> Person:
    user = create_user(uow=app.uow, username=name, display_name=name.title(), roles=[role],
                       password="correct horse battery", actor="bench", now=clock)
    credential, uri = enrol_totp(uow=app.uow, sealer=app.sealer, user_id=user.id, now=clock)
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    confirm_totp(uow=app.uow, sealer=app.sealer, user_id=user.id, credential_id=credential,
                 code=totp.at(clock()), now=clock)
    return Person(user, totp, clock)


def _drafts(app: App, orders: int) -> list[Any]:
    with app.uow() as unit:
        accounts = {a.id: a for a in unit.accounts.all()}
    return [parse_order({"debtor_account": "acc-icbc", "payee_name": f"供应商{n:05d}有限公司",
                         "payee_account": f"6222020299{n:09d}", "payee_bank": "icbc",
                         "amount": f"{100 + n % 900}.{n % 100:02d}", "currency": "CNY"},
                        where=str(n), accounts=accounts, today=app.now().date())
            for n in range(orders)]


def _timed(result: Result, stage: str, work: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = work()
    result.seconds[stage] = result.seconds.get(stage, 0.0) + time.perf_counter() - start
    return value


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _gate(app: App, result: Result, made: list[Any]) -> None:
    """Dispatch's last gate (A-14) over the released orders, batch by batch of 1,000: the
    keyed terms tag and the INV-4 checks, read-only (nothing is sent here)."""
    for part in _chunks([o.id for o in made], 1000):
        def check(ids: list[str] = part) -> None:
            with app.uow() as unit:
                refused = failing_controls(unit, unit.orders.get_many(ids))
            assert not refused, refused
        _timed(result, "gate", check)


def _step_up_once(app: App, person: Person) -> None:
    """One TOTP step-up check, in a transaction rolled back (nothing recorded)."""
    with app.uow() as unit:
        verify_step_up(unit, sealer=app.sealer, user=person.user, code=person.code(),
                       at=app.now())


def run(name: str, kind: str, signing: tuple[str, str] | None, *, url: str, orders: int,
        chunk: int, token: Any) -> Result:
    result = Result(name)
    folder = Path(tempfile.mkdtemp(prefix="bench-controls-"))
    (folder / "policy.toml").write_text(POLICIES[kind], encoding="utf-8")
    clock = Clock()
    app = build_app(Settings(db_url=url), {"accounts": [ACCOUNT],
                                           "policy": str(folder / "policy.toml")})
    app.now = clock
    try:
        anna = _person(app, clock, "anna", "approver")
        rita = _person(app, clock, "rita", "releaser")
        signer = _signer(app, anna, clock, signing, token)
        drafts = _drafts(app, orders)
        made: list[Any] = []
        for part in _chunks(drafts, 1000):
            made += _timed(result, "create", lambda p=part: create_orders(
                uow=app.uow, drafts=p, actor="client:erp", now=clock, source="bench"))
        with app.uow() as unit:
            policy = policy_in_force(unit)
        _timed(result, "evaluation", lambda: [evaluate(policy, o, Facts(at=clock()))
                                              for o in made])
        if kind == "a":
            _gate(app, result, made)
            return result
        for part in _chunks(made, chunk):
            extra = _sign(result, signer, signing, part)
            _timed(result, "approvals", lambda p=part, e=extra: approve(
                uow=app.uow, sealer=app.sealer, order_ids=[o.id for o in p], user=anna.user,
                code=anna.code(), now=clock, **e))
            _timed(result, "step-up", lambda: _step_up_once(app, anna))
        for part in _chunks(made, chunk):
            _timed(result, "release", lambda p=part: release(
                uow=app.uow, sealer=app.sealer, order_ids=[o.id for o in p], user=rita.user,
                code=rita.code(), now=clock))
        _gate(app, result, made)
        return result
    finally:
        app.close()


def _signer(app: App, person: Person, clock: Clock, signing: tuple[str, str] | None,
            token: Any) -> Any:
    if signing is None:
        return None
    signer = token if signing[0] == "token" else SoftwareSigner.from_key(
        generate_private_key(Algorithm.ECDSA_P256_SHA256))
    public = token.public_key if signing[0] == "token" else signer.private_key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    register_signing_key(uow=app.uow, user_id=person.user.id, public_key_pem=pem,
                         algorithm=signer.algorithm.value, actor="bench", now=clock)
    return signer


def _sign(result: Result, signer: Any, signing: tuple[str, str] | None,
          part: list[Any]) -> dict[str, Any]:
    if signing is None:
        return {}
    if signing[1] == "manifest":
        def manifest() -> Any:
            hashes = {o.id: order_hash(o) for o in part}
            return sign_manifest(signer, build_manifest(f"release-{part[0].id}", hashes))
        return {"manifest": _timed(result, "signing", manifest)}
    return {"signatures": _timed(result, "signing", lambda: {
        o.id: signer.sign(canonical_order_bytes(o)) for o in part})}


def _token(folder: Path) -> Any:
    path = Path(__file__).with_name("crypto.py")
    spec = importlib.util.spec_from_file_location("bench_crypto", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.softhsm_signers(folder).get("ec")


def _store(kind: str, index: int) -> str:
    """A fresh store: an SQLite file, or a PostgreSQL schema of its own."""
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='bench-controls-')}/store-{index}.db"
    from sqlalchemy import text

    from bankgate.store import make_engine

    schema = f"bench_controls_{secrets.token_hex(4)}"
    admin = make_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    admin.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}"


def table(store: str, results: list[Result], orders: int) -> str:
    base = results[0].total
    lines = [f"| {store} scenario | " + " | ".join(f"{s} s" for s in STAGES)
             + " | total s | orders/s | added by the controls s |",
             "|---" * (len(STAGES) + 4) + "|"]
    for r in results:
        cells = [f"{r.seconds[s]:.2f}" if s in r.seconds else "–" for s in STAGES]
        lines.append(f"| {r.name} | " + " | ".join(cells) + f" | {r.total:.2f} | "
                     f"{orders / r.total:,.0f} | {r.total - base:+.2f} |")
    return "\n".join(lines)


def main() -> None:
    # a master key for this run's stores and the processes it starts (crypto/master_key.py)
    os.environ.setdefault("BANKGATE_SECRET_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--stores", default="sqlite")
    parser.add_argument("--only", default="", help="scenario letters/indexes, e.g. 0,1,2")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-controls-"))
    token = _token(folder)
    wanted = [int(i) for i in args.only.split(",") if i] or range(len(SCENARIOS))
    for store in args.stores.split(","):
        results = []
        for index in wanted:
            name, kind, signing = SCENARIOS[index]
            if signing and signing[0] == "token" and token is None:
                continue
            url = _store(store, index)
            results.append(run(name, kind, signing, url=url, orders=args.orders,
                               chunk=args.chunk, token=token))
            print(f"{store} {name}: {results[-1].total:.2f} s", file=sys.stderr, flush=True)
        print(f"\n{args.orders:,} orders, chunks of {args.chunk}\n")
        print(table(store, results, args.orders))


if __name__ == "__main__":
    main()
