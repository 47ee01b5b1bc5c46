"""A loopback TCP proxy that can cut the line: forward, or black-hole every byte (I-12).

Real sockets on 127.0.0.1, one thread per direction of each connection. While partitioned,
bytes already on their way are read and dropped (no FIN, no RST: the peer hears silence),
and new connections are accepted and held without ever reaching the upstream. `heal()`
aborts the connections the partition froze (their TLS streams lost bytes) and forwards
new ones again.
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

__all__ = ["PartitionProxy"]

_LINGER_RST = struct.pack("ii", 1, 0)  # close() sends RST: the connection is gone, not ended


class PartitionProxy:
    """127.0.0.1:`port` → `upstream`; `partition()` / `heal()` switch the line."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._partitioned = False
        self._frozen: list[socket.socket] = []  # sockets cut by the current partition
        self._open: set[socket.socket] = set()
        self.held = 0  # connections accepted while partitioned (never forwarded)
        self.dropped_bytes = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="partition-proxy",
                                        daemon=True)
        self._thread.start()

    def partition(self) -> None:
        """Cut the line: from now on nothing passes in either direction."""
        with self._lock:
            self._partitioned = True
            self._frozen = list(self._open)

    def heal(self) -> None:
        """Mend the line: frozen connections are aborted, new ones are forwarded."""
        with self._lock:
            self._partitioned = False
            frozen, self._frozen = self._frozen, []
        for sock in frozen:
            _abort(sock)

    def close(self) -> None:
        """Stop accepting and abort every connection."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            open_ = list(self._open)
        for sock in open_:
            _abort(sock)

    def __enter__(self) -> PartitionProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.add(client)
                if self._partitioned:
                    self.held += 1
                    self._frozen.append(client)
                    held = True
                else:
                    held = False
            if held:  # the SYN was answered, nothing more ever will be
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _abort(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.add(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket | None) -> None:
        """Copy `source` to `target` until either end goes; drop what a partition catches."""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    cut = self._partitioned or target is None or source in self._frozen
                    if cut:
                        self.dropped_bytes += len(data)
                if not cut and target is not None:
                    target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                if sock is not None:
                    _abort(sock)
            with self._lock:
                self._open.discard(source)
                if target is not None:
                    self._open.discard(target)


def _abort(sock: socket.socket) -> None:
    """End a connection at once (RST) and wake the thread blocked reading it."""
    for step in (lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST),
                 lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
        try:
            step()
        except OSError:
            pass
