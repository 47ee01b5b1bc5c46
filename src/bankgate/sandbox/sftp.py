"""The sandbox SFTP bank: a real SSH server (asyncssh) with key logins and per-company homes.

Every login is chrooted to its own home (`sftp_bank.Login`); path names are normalised
inside it, so `..` never leaves it, and links cannot be made. The bank's rules on the wire:

- the company may write only `out/NAME.part` and rename it to `out/NAME`; a rename never
  replaces a file, and a delivered file is never removed or rewritten;
- `in/` is read-only for the company; listing it first lets the bank write what is due
  (`FileBank.refresh`);
- fault knobs (`SftpFaults`) drop the connection in the middle of a read (B-17) or list a
  hostile name (path traversal) so the gateway's refusals can be tested.

Host and client keys are Ed25519, generated once into `<state>/ssh/` and reused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncssh

from bankgate.sandbox.ledger import Ledger
from bankgate.sandbox.records import StatusChange
from bankgate.sandbox.sftp_bank import TEMP_SUFFIX, FileBank, Login
from bankgate.sandbox.world import World

__all__ = ["SftpBankServer", "SftpFaults", "SshKeys", "ensure_ssh_keys"]

log = logging.getLogger(__name__)

_WRITE: Final = asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | \
    asyncssh.FXF_TRUNC


@dataclass(frozen=True, slots=True)
class SshKeys:
    """Paths of the bank's host key and the company's client key (private + .pub)."""

    host_key: Path
    host_public: Path
    client_key: Path
    client_public: Path


def ensure_ssh_keys(directory: Path) -> SshKeys:
    """Ed25519 host and client keys in `directory`, generated when missing (0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = SshKeys(directory / "host_key", directory / "host_key.pub",
                   directory / "client_key", directory / "client_key.pub")
    for private, public in ((keys.host_key, keys.host_public),
                            (keys.client_key, keys.client_public)):
        if private.exists() and public.exists():
            continue
        key = asyncssh.generate_private_key("ssh-ed25519")
        private.write_bytes(key.export_private_key())
        private.chmod(0o600)
        public.write_bytes(key.export_public_key())
    return keys


@dataclass
class SftpFaults:
    """One-shot and standing faults of the SFTP bank (tests set them, then reset)."""

    drop_read_after_bytes: int | None = None  # the next read past this offset drops the line
    listed_names: list[str] = field(default_factory=list)  # extra names listed in in/
    drops: int = 0  # how many connections were dropped so far

    def reset(self) -> None:
        """No faults."""
        self.drop_read_after_bytes = None
        self.listed_names = []


class _Ssh(asyncssh.SSHServer):
    """Public-key logins only, each checked against the login's authorised keys."""

    def __init__(self, server: SftpBankServer) -> None:
        self._server = server

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        allowed = self._server.authorized.get(username, ())
        ok = any(key.public_data == known.public_data for known in allowed)
        if not ok:
            log.info("sandbox SFTP refused key %s for %r", key.get_fingerprint(), username)
        return ok


class _Sftp(asyncssh.SFTPServer):
    """The bank's file rules on top of a chrooted local directory."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], server: SftpBankServer) -> None:
        username = chan.get_extra_info("username")
        self._login: Login = server.bank.logins[username]
        self._server = server
        super().__init__(chan, chroot=str(self._login.home).encode())

    def _where(self, path: bytes) -> tuple[str, str]:
        """(top directory, rest) of a client path, after chroot normalisation."""
        local = Path(os.fsdecode(self.map_path(path)))
        try:
            rel = local.relative_to(self._login.home.resolve())
        except ValueError:
            rel = local.relative_to(self._login.home)
        parts = rel.parts
        return (parts[0] if parts else "", "/".join(parts[1:]))

    def _deny(self, why: str) -> None:
        raise asyncssh.SFTPPermissionDenied(why)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        top, rest = self._where(path)
        if pflags & _WRITE:
            if top != "out" or "/" in rest or not rest.endswith(TEMP_SUFFIX):
                self._deny("write only out/NAME.part, then rename it")
        return super().open(path, pflags, attrs)

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        faults = self._server.faults
        limit = faults.drop_read_after_bytes
        if limit is not None and offset + size > limit:
            faults.drop_read_after_bytes = None
            faults.drops += 1
            self.connection.abort()
            raise asyncssh.SFTPConnectionLost("the bank dropped the line (fault)")
        data: bytes = super().read(file_obj, offset, size)  # type: ignore[assignment]
        return data

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        top, old = self._where(oldpath)
        new_top, new = self._where(newpath)
        if top != "out" or new_top != "out" or old != new + TEMP_SUFFIX:
            self._deny("only out/NAME.part may be renamed, to out/NAME")
        target = self._login.outbound / new
        if target.exists():
            raise asyncssh.SFTPFailure(f"out/{new} exists")
        os.rename(self._login.outbound / old, target)
        self._server.bank.pick_up(self._login)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny("POSIX rename (overwrite) is not offered")

    def remove(self, path: bytes) -> None:
        top, rest = self._where(path)
        if top != "out" or not rest.endswith(TEMP_SUFFIX):
            self._deny("only out/NAME.part may be removed")
        super().remove(path)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        top, rest = self._where(path)
        if top == "in" and not rest:
            self._server.bank.refresh(self._login)
        async for entry in super().scandir(path):
            yield entry
        if top == "in" and not rest:
            for name in list(self._server.faults.listed_names):
                yield asyncssh.SFTPName(name.encode(), attrs=asyncssh.SFTPAttrs(
                    type=asyncssh.FILEXFER_TYPE_REGULAR, permissions=0o100644, size=10,
                    mtime=0))

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._deny("directories are the bank's")

    def rmdir(self, path: bytes) -> None:
        self._deny("directories are the bank's")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny("links are not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny("links are not allowed")

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._deny("attributes are the bank's")


class SftpBankServer:
    """The SFTP bank of a sandbox world, served from its own event loop thread."""

    def __init__(self, ledger: Ledger, world: World, *, state_dir: Path,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.keys = ensure_ssh_keys(state_dir / "ssh")
        self.bank = FileBank(ledger, world, state_dir / "sftp")
        self.world_banks = [spec.id for spec in world.banks]
        self.faults = SftpFaults()
        client = asyncssh.import_public_key(self.keys.client_public.read_bytes())
        self.authorized: dict[str, tuple[asyncssh.SSHKey, ...]] = {
            name: (client,) for name in self.bank.logins}
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox-sftp",
                                        daemon=True)
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def host_key_line(self) -> str:
        """The host key as an OpenSSH public key line (what the gateway pins)."""
        return self.keys.host_public.read_text(encoding="ascii").strip()

    def start(self) -> SftpBankServer:
        """Listen (port 0: any free port) and serve in the background."""
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._acceptor.get_port()
        return self

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            self.host, self.port, server_factory=lambda: _Ssh(self),
            server_host_keys=[str(self.keys.host_key)], allow_scp=False,
            sftp_factory=lambda chan: _Sftp(chan, self), login_timeout=10,
            encoding=None)

    def on_change(self, change: StatusChange) -> None:
        """A ledger status change (settled, returned), from the settler thread."""
        self.bank.on_change(change)

    def stop(self) -> None:
        """Stop listening, close every connection and the loop."""
        if self._acceptor is not None:
            acceptor, self._acceptor = self._acceptor, None

            async def close() -> None:
                acceptor.close()
                await acceptor.wait_closed()

            try:
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
            except Exception:  # stopping: a connection that will not close is abandoned
                log.debug("closing the sandbox SFTP server failed", exc_info=True)
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_closed():
            self._loop.close()

    def state(self) -> dict[str, Any]:
        """Where the SFTP bank is, for `sandbox.json`: host, port, keys and logins."""
        return {"host": self._shown_host, "port": self.port, "host_key": self.host_key_line,
                "client_key": str(self.keys.client_key),
                "logins": {bank: self.bank.login_of(bank).name for bank in self.world_banks}}

    @property
    def _shown_host(self) -> str:
        return "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104

    def client_options(self, bank: str) -> dict[str, Any]:
        """The gateway's channel configuration for `bank` (kind "files")."""
        return {"host": self._shown_host, "port": self.port,
                "username": self.bank.login_of(bank).name,
                "client_key": str(self.keys.client_key), "host_key": self.host_key_line}
