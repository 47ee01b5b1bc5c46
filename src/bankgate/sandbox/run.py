"""Start and stop the sandbox banks: PKI, ledger, HTTPS server, settler and callbacks.

`start_sandbox` runs everything in background threads for tests and the demo;
`main_sandbox` runs until Ctrl-C and writes `sandbox.json` so that a gateway can find it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from bankgate.crypto.pki import TestPki, issue_test_pki
from bankgate.crypto.signer import Algorithm
from bankgate.sandbox.callbacks import CallbackSender, Settler
from bankgate.sandbox.dialects import dialect
from bankgate.sandbox.faults import FaultKnobs, Faults
from bankgate.sandbox.frontend import FrontendSide
from bankgate.sandbox.hostapi import HostApiServer, SandboxContext
from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.ledger_file import LedgerFile
from bankgate.sandbox.load import BankLoad
from bankgate.sandbox.records import Order, StatusChange
from bankgate.sandbox.security import PartyKeys, build_security, issue_keys, mtls_server_context
from bankgate.sandbox.sftp import SftpBankServer
from bankgate.sandbox.world import World

__all__ = ["RunningSandbox", "main_sandbox", "start_sandbox"]

log = logging.getLogger(__name__)


class RunningSandbox:
    """The sandbox banks running in this process; stop with `stop()` or a `with` block."""

    def __init__(self, world: World, *, pki: TestPki, host: str, port: int,
                 settle_delay_s: float, seed: int,
                 keys: Mapping[str, PartyKeys] | None = None,
                 ledger_file: Path | None = None) -> None:
        self.world = world
        self.pki = pki
        self.keys = dict(keys or issue_keys(pki, {b.id: b.dialect for b in world.banks}))
        self.security = build_security(self.keys)
        self.faults = Faults(seed=seed)
        self._ledger_file = LedgerFile(ledger_file) if ledger_file is not None else None
        self.ledger = Ledger(world, settle_delay_s=settle_delay_s, clock=self.faults.now,
                             file=self._ledger_file)
        dialects = {spec.id: dialect(spec.dialect) for spec in world.banks}
        self.sftp = SftpBankServer(self.ledger, world, state_dir=pki.directory, host=host)
        self.settler = Settler(self.ledger, self._on_change)
        self.callbacks = CallbackSender(pki, dialects, self.faults, self.security)
        self.frontends = FrontendSide(pki=pki, ledger=self.ledger, faults=self.faults,
                                      security=self.security, keys=self.keys,
                                      banks={b.id: b.dialect for b in world.banks})
        self._stopping = threading.Event()
        self.load = BankLoad()  # what the host API banks have in hand (B-16)
        context = SandboxContext(ledger=self.ledger, faults=self.faults, dialects=dialects,
                                 settle=lambda force: self.settler.settle(force=force),
                                 stopping=self._stopping, security=self.security,
                                 portal=self._portal, load=self.load)
        # Mutual TLS: a client without a certificate from the test CA is refused.
        self._server = HostApiServer((host, port), context, mtls_server_context(pki))
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="sandbox-hostapi", daemon=True)
        self._stopped = False

    @property
    def base_url(self) -> str:
        """The server's root, e.g. https://127.0.0.1:8443."""
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"https://{shown}:{self.port}"

    def url(self, bank: str) -> str:
        """A bank's API prefix, ending with /v1."""
        self.world.bank(bank)
        return f"{self.base_url}/{bank}/v1"

    def _on_change(self, change: StatusChange) -> None:
        self.callbacks.send(change)
        self.sftp.on_change(change)

    def gateway_options(self, bank: str) -> dict[str, Any]:
        """The host API configuration a gateway needs for `bank`: URL, TLS, signing keys."""
        spec = self.world.bank(bank)
        keys = self.keys[bank]
        return {"kind": "hostapi", "base_url": self.url(bank), "dialect": spec.dialect,
                "ca_file": str(self.pki.ca_cert), "client_cert": str(self.pki.client_cert),
                "client_key": str(self.pki.client_key),
                "signature_algorithm": keys.algorithm.value,
                "signing_key": str(keys.gateway.key_file),
                "signing_key_password_file": str(keys.gateway.password_file),
                "bank_public_key": str(keys.bank.public_file),
                "crl_file": str(self.pki.directory / "crl.pem")}

    def frontend_options(self, bank: str) -> dict[str, Any]:
        """The configuration of a gateway reaching `bank` through its front-end processor."""
        return {"kind": "frontend", "base_url": self.frontends.url(bank),
                "dialect": self.world.bank(bank).dialect, "login": "BANKGATE01",
                "branch": "75"}

    def start(self) -> RunningSandbox:
        """Serve and settle in background threads."""
        self._thread.start()
        self.sftp.start()
        self.frontends.start()
        self.settler.start()
        return self

    def set_faults(self, bank: str | None = None, *, reset: bool = False,
                   seed: int | None = None, script: Sequence[Mapping[str, Any]] | None = None,
                   **knobs: Any) -> FaultKnobs:
        """Set fault knobs for one bank or all (see `Faults.set` and the protocol doc)."""
        if bank is not None:
            self.world.bank(bank)
        return self.faults.set(bank, reset=reset, seed=seed, script=script, **knobs)

    def settle_now(self) -> int:
        """Settle every accepted order now; how many were settled."""
        return self.settler.settle(force=True)

    def confirm_in_portal(self, bank: str, instruction_id: str) -> Order:
        """The customer confirms a held order in `bank`'s portal (网银二次确认, B-19)."""
        return self._portal(bank, instruction_id, True, None)

    def refuse_in_portal(self, bank: str, instruction_id: str, reason: str) -> Order:
        """The customer refuses a held order in `bank`'s portal, saying why (B-19)."""
        return self._portal(bank, instruction_id, False, reason)

    def awaiting_confirmation(self, bank: str) -> list[Order]:
        """The orders `bank` holds for a second confirmation, oldest first."""
        return self.ledger.awaiting_confirmation(bank)

    def _portal(self, bank: str, instruction_id: str, confirm: bool,
                reason: str | None) -> Order:
        self.world.bank(bank)
        change = self.ledger.confirm_in_portal(bank, instruction_id, confirm=confirm,
                                               reason=reason)
        self._on_change(change)  # the bank's callback, as for any status change
        return change.order

    def stop(self) -> None:
        """Stop serving, settling and delivering; close every socket. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self.settler.stop()
        self.frontends.stop()
        self._server.close_connections()
        self._server.server_close()
        self.callbacks.close()
        self.sftp.stop()
        if self._ledger_file is not None:
            self._ledger_file.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def start_sandbox(world: World, *, state_dir: Path, host: str = "127.0.0.1", port: int = 0,
                  settle_delay_s: float = 0.2, seed: int = 0,
                  signature_algorithms: Mapping[str, Algorithm] | None = None,
                  ledger_file: Path | None = None) -> RunningSandbox:
    """Start the world's banks on `host:port` (0: any free port); PKI files in `state_dir`;
    the books in memory, or in `ledger_file` (durable, carried on from when it exists).

    Each bank signs with `signature_algorithms[bank]`, else its dialect's default
    (`sandbox.security.DEFAULT_ALGORITHMS`).
    """
    hosts = tuple(dict.fromkeys((host, "127.0.0.1", "localhost")))
    if host in ("0.0.0.0", ""):  # noqa: S104 - listening everywhere: name the usual hosts
        hosts = ("127.0.0.1", "localhost")
    pki = issue_test_pki(state_dir, hosts=hosts)
    keys = issue_keys(pki, {b.id: b.dialect for b in world.banks}, signature_algorithms)
    running = RunningSandbox(world, pki=pki, host=host, port=port,
                             settle_delay_s=settle_delay_s, seed=seed, keys=keys,
                             ledger_file=ledger_file)
    return running.start()


def write_state(running: RunningSandbox, state_dir: Path) -> Path:
    """`sandbox.json`: base URL, PKI paths, banks and the company's accounts."""
    state = {
        "base_url": running.base_url, "pid": os.getpid(),
        "ca_cert": str(running.pki.ca_cert), "ca_file": str(running.pki.ca_cert),
        "client_cert": str(running.pki.client_cert),
        "client_key": str(running.pki.client_key),
        "banks": [{"id": spec.id, "dialect": spec.dialect, "name": spec.name,
                   "url": running.url(spec.id), "gateway": running.gateway_options(spec.id),
                   "frontend": running.frontend_options(spec.id)
                   if spec.id in running.frontends.banks else None}
                  for spec in running.world.banks],
        "company_accounts": [{"bank": a.bank, "number": a.number, "holder": a.holder,
                              "currency": a.currency}
                             for a in running.world.company_accounts()],
        "sftp": running.sftp.state(),
    }
    path = state_dir / "sandbox.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def main_sandbox(world: World, *, state_dir: Path, host: str = "127.0.0.1", port: int = 8443,
                 settle_delay_s: float = 1.0, ledger_file: Path | None = None) -> None:
    """Run the sandbox banks until Ctrl-C, announcing where they are in `sandbox.json`."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with start_sandbox(world, state_dir=state_dir, host=host, port=port,
                       settle_delay_s=settle_delay_s, ledger_file=ledger_file) as running:
        path = write_state(running, state_dir)
        banks = ", ".join(f"{spec.id} ({spec.dialect})" for spec in world.banks)
        print(f"sandbox banks {banks} at {running.base_url}; CA {running.pki.ca_cert}; "
              f"state {path}. Ctrl-C stops.", flush=True)
        try:
            _wait_for_a_stop_signal()
        except KeyboardInterrupt:
            pass
        finally:
            print("stopping the sandbox banks", flush=True)
            path.unlink(missing_ok=True)


def _wait_for_a_stop_signal() -> None:
    """Block until Ctrl-C or SIGTERM (a supervisor's or a benchmark's `terminate()`)."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    while not stop.wait(0.5):
        pass
