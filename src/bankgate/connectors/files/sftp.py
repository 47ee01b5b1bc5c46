"""A synchronous SFTP client over asyncssh: key login, pinned host key, atomic upload, resume.

asyncssh is asynchronous; the channel protocol is not. Each client runs its own event loop
in one private thread and hands coroutines to it, one call at a time; `close()` closes the
session, the connection and the loop. Failures are translated once, here:

- connecting, listing and reading fail as `BankUnavailable` (nothing was changed; safe to
  try again); a read that loses the connection reconnects and goes on from the byte it had
  reached, up to `max_attempts` times (B-17);
- an upload fails as `BankUnavailable` while only the temporary file may exist (the bank
  never reads temporary names) and as `OutcomeUnknown` once the rename was asked for, since
  the final file may then be there (K-12, K-13).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

import asyncssh

from bankgate.connectors.files.config import FilesConfig
from bankgate.connectors.files.wire import RemoteFile
from bankgate.errors import BankUnavailable, ConfigError, OutcomeUnknown

__all__ = ["CHUNK", "TEMP_SUFFIX", "RemoteFile", "SftpClient"]

log = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK: Final = 64 * 1024
#: Uploads are written as `<name>.part`, then renamed; banks ignore this suffix.
TEMP_SUFFIX: Final = ".part"
_CONNECTION_LOST: Final = (asyncssh.DisconnectError, asyncssh.SFTPConnectionLost,
                           asyncssh.ChannelOpenError, OSError, asyncio.TimeoutError,
                           EOFError)


class SftpClient:
    """One SFTP session to one bank, opened on first use and reopened after a break."""

    def __init__(self, config: FilesConfig) -> None:
        self.config = config
        self.resumes = 0  # reads continued after a broken connection (B-17)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._key: asyncssh.SSHKey | None = None
        self._pinned: asyncssh.SSHKey | None = None

    # -- the calls ---------------------------------------------------------------------------

    def listdir(self, directory: str) -> list[RemoteFile]:
        """Regular files of `directory`, by name."""
        return self._call(f"list {directory}", lambda: self._listdir(directory))

    def stat(self, path: str) -> RemoteFile | None:
        """The file at `path`, or None when there is none."""
        return self._call(f"stat {path}", lambda: self._stat(path))

    def read(self, path: str) -> bytes:
        """The whole file, resumed after a broken connection; refused over `max_file_bytes`."""
        with self._lock:
            return self._run_sync(self._read(path))

    def upload_atomic(self, directory: str, name: str, data: bytes) -> None:
        """Write `data` as `directory/name.part`, then rename it to `directory/name`.

        The rename never replaces a file (SFTP v3 rename): when `name` exists already, it
        raises FileExistsError and leaves both files as they are.
        """
        final, temp = f"{directory}/{name}", f"{directory}/{name}{TEMP_SUFFIX}"
        with self._lock:
            self._run_sync(self._write(temp, data))
            _test_crash_point("files.after_temp_write")
            try:
                self._run_sync(self._rename(temp, final))
            except BankUnavailable as exc:  # the rename may have been done
                raise OutcomeUnknown(str(exc)) from exc

    def close(self) -> None:
        """Close the session, the connection and the private loop."""
        with self._lock:
            if self._loop is None:
                return
            loop, thread = self._loop, self._thread
            try:
                asyncio.run_coroutine_threadsafe(self._drop(), loop).result(5)
            except Exception:  # closing a broken connection: nothing left to save
                log.debug("closing the SFTP connection failed", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5)
            loop.close()
            self._loop = self._thread = None

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, what: str, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a read-only call; one reconnect when the connection broke before it."""
        with self._lock:
            for attempt in range(1, self.config.max_attempts + 1):
                try:
                    return self._run_sync(make())
                except BankUnavailable:
                    if attempt == self.config.max_attempts:
                        raise
                    log.info("SFTP %s failed, reconnecting", what,
                             extra={"bank": self.config.bank, "attempt": attempt})
        raise AssertionError("unreachable")

    def _run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(coro, self.config.timeout_s), loop)
        try:
            return future.result(self.config.timeout_s + 5)
        except (asyncssh.HostKeyNotVerifiable, asyncssh.PermissionDenied) as exc:
            self._forget()
            raise BankUnavailable(f"{self.config.bank}: SFTP login to {self.config.host} "
                                  f"refused: {_reason(exc)}") from exc
        except asyncssh.SFTPNoSuchFile as exc:
            raise FileNotFoundError(str(exc)) from exc
        except asyncssh.SFTPFailure as exc:
            if "exists" in str(exc).lower():
                raise FileExistsError(str(exc)) from exc
            raise BankUnavailable(f"{self.config.bank}: SFTP: {_reason(exc)}") from exc
        except asyncssh.SFTPError as exc:
            if isinstance(exc, asyncssh.SFTPConnectionLost):
                self._forget()
            raise BankUnavailable(f"{self.config.bank}: SFTP: {_reason(exc)}") from exc
        except (*_CONNECTION_LOST, TimeoutError) as exc:
            future.cancel()
            self._forget()
            raise BankUnavailable(f"{self.config.bank}: SFTP connection to "
                                  f"{self.config.host}:{self.config.port} failed: "
                                  f"{_reason(exc)}") from exc

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, daemon=True,
                                      name=f"sftp-{self.config.bank}")
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def _forget(self) -> None:
        """Drop a broken session so that the next call opens a new one."""
        if self._loop is not None:
            conn, self._conn, self._sftp = self._conn, None, None
            if conn is not None:
                self._loop.call_soon_threadsafe(conn.abort)

    async def _session(self) -> asyncssh.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        self._load_keys()
        conn = await asyncssh.connect(
            self.config.host, self.config.port, username=self.config.username,
            client_keys=[self._key], known_hosts=([self._pinned], [], []),
            agent_path=None, password=None, kbdint_auth=False, gss_host=None,
            preferred_auth="publickey", connect_timeout=self.config.connect_timeout_s,
            keepalive_interval=30)
        try:
            self._sftp = await conn.start_sftp_client()
        except BaseException:
            conn.abort()
            raise
        self._conn = conn
        return self._sftp

    def _load_keys(self) -> None:
        if self._key is not None and self._pinned is not None:
            return
        try:
            self._key = asyncssh.read_private_key(self.config.client_key)
        except (OSError, asyncssh.KeyImportError) as exc:
            raise ConfigError(f"banks.{self.config.bank}.client_key: cannot read the key "
                              f"file: {type(exc).__name__}") from None
        try:
            self._pinned = asyncssh.import_public_key(self.config.host_key)
        except asyncssh.KeyImportError as exc:
            raise ConfigError(f"banks.{self.config.bank}.host_key: {exc}") from None

    async def _drop(self) -> None:
        sftp, conn, self._sftp, self._conn = self._sftp, self._conn, None, None
        if sftp is not None:
            sftp.exit()
        if conn is not None:
            conn.close()
            await conn.wait_closed()

    async def _listdir(self, directory: str) -> list[RemoteFile]:
        sftp = await self._session()
        found = []
        for entry in await sftp.readdir(directory):
            attrs = entry.attrs
            if attrs.type != asyncssh.FILEXFER_TYPE_REGULAR:
                continue
            name = entry.filename if isinstance(entry.filename, str) else \
                entry.filename.decode("utf-8", "replace")
            found.append(RemoteFile(name, int(attrs.size or 0), int(attrs.mtime or 0)))
        return sorted(found, key=lambda f: f.name)

    async def _stat(self, path: str) -> RemoteFile | None:
        sftp = await self._session()
        try:
            attrs = await sftp.stat(path)
        except asyncssh.SFTPNoSuchFile:
            return None
        return RemoteFile(path.rsplit("/", 1)[-1], int(attrs.size or 0), int(attrs.mtime or 0))

    async def _read(self, path: str) -> bytes:
        """Read in chunks; after a broken connection, reopen and continue at the offset."""
        parts: list[bytes] = []
        offset, attempt = 0, 1
        while True:
            try:
                return await self._read_from(path, parts, offset)
            except _CONNECTION_LOST as exc:
                offset = sum(len(p) for p in parts)
                await self._abandon()
                if attempt >= self.config.max_attempts:
                    raise
                attempt += 1
                self.resumes += 1
                log.info("SFTP read broke, resuming", extra={
                    "bank": self.config.bank, "offset": offset, "error": type(exc).__name__})

    async def _read_from(self, path: str, parts: list[bytes], offset: int) -> bytes:
        sftp = await self._session()
        size = int((await sftp.stat(path)).size or 0)
        if size > self.config.max_file_bytes:
            raise asyncssh.SFTPFailure(f"{path} is {size} bytes, over max_file_bytes "
                                       f"({self.config.max_file_bytes}); not fetched")
        async with sftp.open(path, "rb") as handle:
            while offset < size:
                chunk = await handle.read(min(CHUNK, size - offset), offset)
                if not chunk:
                    break
                parts.append(bytes(chunk))  # type: ignore[arg-type]
                offset += len(chunk)
        data = b"".join(parts)
        if len(data) != size:
            raise asyncssh.SFTPFailure(f"{path} changed while it was read "
                                       f"({len(data)} of {size} bytes)")
        return data

    async def _abandon(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.abort()

    async def _write(self, path: str, data: bytes) -> None:
        sftp = await self._session()
        async with sftp.open(path, "wb") as handle:
            for start in range(0, len(data), CHUNK):
                await handle.write(data[start:start + CHUNK], start)

    async def _rename(self, old: str, new: str) -> None:
        sftp = await self._session()
        if await self._stat(new) is not None:
            raise asyncssh.SFTPFailure(f"{new} exists")
        await sftp.rename(old, new)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", "") or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:200]


def _test_crash_point(name: str) -> None:
    """Die here for the crash tests (K-12), as services/crashpoints.py does; test builds only."""
    if os.environ.get("BANKGATE_TEST_HOOKS") == "1" and os.environ.get("BANKGATE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
