"""Signatures per second per algorithm and key kind, and what signing a release costs (L-03).

Key kinds: software RSA-2048 and ECDSA P-256 (cryptography), SM2 with tongsuopy (ours) and
with snowland-smx (the pure-Python alternative), and RSA-2048 / P-256 inside a SoftHSM2
token (one logged-in session, as a release would use). Then the cost of signing a release of
N orders: one signature per order versus one signature over the batch manifest (each order's
canonical hash still computed). The SoftHSM token lives in a temporary directory.

    .venv/bin/python bench/crypto.py [--seconds 2] [--orders 10000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from bankgate.crypto.digest import canonical_hash
from bankgate.crypto.manifest import build_manifest, sign_manifest
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.sm import Sm2Signer, Sm2Verifier, generate_sm2_key
from bankgate.crypto.software import SoftwareSigner, SoftwareVerifier, generate_private_key

MESSAGE = b"POST /v1/payments\n2026-12-01T08:00:00Z\nnonce\n" + b"x" * 200


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second, run for about `seconds`."""
    operation()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10):
            operation()
        count += 10
    return count / elapsed


def snowland_pair() -> tuple[Callable[[], object], Callable[[], object]]:
    """Sign and verify with snowland-smx (nonce from `secrets`, as its own helpers do)."""
    from pysmx.SM2 import Sign, Verify, generate_keypair

    pair = generate_keypair()
    public, private = pair.publicKey, pair.privateKey

    def sign() -> bytes:
        return bytes(Sign(MESSAGE, private, f"{secrets.randbelow(2**255) + 1:064x}", 64,
                          uid=b"1234567812345678"))

    signature = sign()

    def verify() -> bool:
        return bool(Verify(signature, MESSAGE, public, 64, uid=b"1234567812345678"))

    return sign, verify


def softhsm_signers(directory: Path) -> dict[str, object]:
    """RSA and EC signers in a fresh SoftHSM token (SOFTHSM2_CONF set for this process)."""
    from bankgate.crypto.pin import PinGuard
    from bankgate.crypto.token import default_module, open_token
    from bankgate.store import make_engine, migrate
    from bankgate.store.security import SqlPinCounterStore

    module = default_module()
    if module is None or not shutil.which("softhsm2-util"):
        print("SoftHSM2 not installed: token rows skipped", file=sys.stderr)
        return {}
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin",
                    "123456", "--so-pin", "12345678"], check=True, capture_output=True)
    engine = make_engine(f"sqlite:///{directory / 'pins.db'}")
    migrate(engine)
    session = open_token(module, "bench", "123456", guard=PinGuard(SqlPinCounterStore(engine)))
    return {"rsa": session.generate_key("rsa", Algorithm.RSA_SHA256),
            "ec": session.generate_key("ec", Algorithm.ECDSA_P256_SHA256)}


def signature_table(seconds: float, token: dict[str, object]) -> list[tuple[str, float, float]]:
    rows = []
    for label, algorithm in (("software RSA-2048", Algorithm.RSA_SHA256),
                             ("software ECDSA P-256", Algorithm.ECDSA_P256_SHA256)):
        key = generate_private_key(algorithm)
        signer = SoftwareSigner.from_key(key)
        verifier = SoftwareVerifier.from_key(key.public_key())
        signature = signer.sign(MESSAGE)
        rows.append((label, rate(lambda s=signer: s.sign(MESSAGE), seconds),
                     rate(lambda v=verifier, g=signature: v.verify(MESSAGE, g), seconds)))
    sm2 = Sm2Signer(generate_sm2_key())
    sm2_verifier = Sm2Verifier.from_public_pem(sm2.public_pem())
    sm2_signature = sm2.sign(MESSAGE)
    rows.append(("SM2-SM3 tongsuopy (ours)", rate(lambda: sm2.sign(MESSAGE), seconds),
                 rate(lambda: sm2_verifier.verify(MESSAGE, sm2_signature), seconds)))
    sign, verify = snowland_pair()
    rows.append(("SM2-SM3 snowland-smx (pure Python)", rate(sign, seconds),
                 rate(verify, seconds)))
    for name, label in (("rsa", "SoftHSM2 RSA-2048"), ("ec", "SoftHSM2 ECDSA P-256")):
        if name in token:
            signer = token[name]
            verifier = SoftwareVerifier.from_key(signer.public_key)  # type: ignore[attr-defined]
            signature = signer.sign(MESSAGE)  # type: ignore[attr-defined]
            rows.append((label, rate(lambda s=signer: s.sign(MESSAGE), seconds),  # type: ignore[misc]
                         rate(lambda v=verifier, g=signature: v.verify(MESSAGE, g), seconds)))
    return rows


def release_table(orders: int, token: dict[str, object]) -> list[tuple[str, float, float]]:
    """Seconds to sign a release of `orders`: per order vs one manifest."""
    order_docs = [{"payee": f"供应商 {i}", "account": f"62220202{i:011d}",
                   "amount": Decimal("1234.56"), "currency": "CNY", "date": "2026-12-01"}
                  for i in range(orders)]
    signers: list[tuple[str, object]] = [
        ("software RSA-2048", SoftwareSigner.from_key(generate_private_key(Algorithm.RSA_SHA256))),
        ("software ECDSA P-256",
         SoftwareSigner.from_key(generate_private_key(Algorithm.ECDSA_P256_SHA256))),
        ("SM2-SM3 tongsuopy", Sm2Signer(generate_sm2_key()))]
    signers += [(f"SoftHSM2 {'RSA-2048' if k == 'rsa' else 'ECDSA P-256'}", s)
                for k, s in token.items()]
    rows = []
    for label, signer in signers:
        start = time.perf_counter()
        for doc in order_docs:
            signer.sign(canonical_hash(doc).encode())  # type: ignore[attr-defined]
        per_order = time.perf_counter() - start
        start = time.perf_counter()
        hashes = {f"ord-{i:06d}": canonical_hash(doc) for i, doc in enumerate(order_docs)}
        sign_manifest(signer, build_manifest("batch-bench", hashes))  # type: ignore[arg-type]
        batch = time.perf_counter() - start
        rows.append((label, per_order, batch))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the release")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-crypto-") as tmp:
        token = softhsm_signers(Path(tmp))
        print("| key | signatures/s | verifications/s |\n|---|---|---|")
        for label, signs, verifies in signature_table(args.seconds, token):
            print(f"| {label} | {signs:,.0f} | {verifies:,.0f} |")
        print(f"\n| key | release of {args.orders:,} orders, one signature each (s) | "
              "one manifest signature (s) |\n|---|---|---|")
        for label, per_order, batch in release_table(args.orders, token):
            print(f"| {label} | {per_order:.2f} | {batch:.3f} |")


if __name__ == "__main__":
    main()
