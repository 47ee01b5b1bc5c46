"""What message security costs a bank channel: signatures per second, and a call's latency.

Per algorithm (RSA-SHA256, ECDSA-P256-SHA256, SM2-SM3): signing and verifying one host API
request (`crypto/signed_http.py`, software keys of the test PKI). Then a balance query's
latency against the sandbox over mutual TLS, signed both ways: the host API per bank
(icbc RSA, cmb SM2, boc ECDSA) and cmb through its front-end processor (two hops, GBK XML).

    .venv/bin/python bench/channels.py --calls 300
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.connectors.world import open_bank, our_account, small_world

from bankgate.connectors.frontend import connect as connect_frontend
from bankgate.crypto.keyfiles import load_signer, load_verifier
from bankgate.crypto.pki import issue_test_pki
from bankgate.crypto.signed_http import sign_request, verify_request
from bankgate.crypto.signer import Algorithm
from bankgate.crypto.testkeys import issue_signing_key
from bankgate.sandbox.run import start_sandbox

BODY = b'{"accounts": ["6222020200001000001"]}'


class _Headers(dict):  # type: ignore[type-arg]
    def get(self, name: str, default: Any = None) -> Any:
        return {k.lower(): v for k, v in self.items()}.get(name.lower(), default)


def signatures(count: int, directory: Path) -> None:
    pki = issue_test_pki(directory)
    print(f"{'algorithm':20} {'sign/s':>8} {'verify/s':>9}")
    for algorithm in Algorithm:
        files = issue_signing_key(pki, f"bench-{algorithm.value.lower()}", algorithm)
        signer = load_signer(files.key_file, algorithm, password_file=files.password_file,
                             where="bench")
        verifier = load_verifier(files.public_file, algorithm, where="bench")
        now = datetime.now(UTC)
        started = time.perf_counter()
        signed = [sign_request(signer, method="POST", target="/icbc/v1/balances", body=BODY,
                               now=now) for _ in range(count)]
        sign_s = time.perf_counter() - started
        started = time.perf_counter()
        for headers in signed:
            verify_request(_Headers(headers), method="POST", target="/icbc/v1/balances",
                           body=BODY, verifiers={verifier.key_id: verifier}, now=now)
        verify_s = time.perf_counter() - started
        print(f"{algorithm.value:20} {count / sign_s:8.0f} {count / verify_s:9.0f}")


def latency(count: int, directory: Path) -> None:
    print(f"\n{'balance query':42} {'median ms':>9} {'p90 ms':>7}")
    with start_sandbox(small_world(), state_dir=directory, settle_delay_s=0.05) as sandbox:
        channels = [(f"host API {b} ({sandbox.keys[b].algorithm.value})", b, open_bank(sandbox, b))
                    for b in ("icbc", "cmb", "boc")]
        options = {k: v for k, v in sandbox.frontend_options("cmb").items() if k != "kind"}
        channels.append(("front-end cmb (SM2-SM3, GBK, 2 hops)", "cmb",
                         connect_frontend("cmb", options)))  # type: ignore[arg-type]
        for name, bank, channel in channels:
            account = our_account(bank)
            channel.balances([account])
            times = []
            for _ in range(count):
                started = time.perf_counter()
                channel.balances([account])
                times.append((time.perf_counter() - started) * 1000)
            channel.close()
            times.sort()
            print(f"{name:42} {statistics.median(times):9.2f} {times[int(count * 0.9)]:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bankgate-bench-channels-") as tmp:
        signatures(args.calls, Path(tmp) / "keys")
        latency(args.calls, Path(tmp) / "sandbox")


if __name__ == "__main__":
    main()
