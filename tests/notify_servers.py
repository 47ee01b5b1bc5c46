"""Real local servers that notifications go to: an SMTP server (aiosmtpd) and a webhook
receiver (stdlib HTTP), both on 127.0.0.1 with a port the OS chooses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class _PortZeroController(Controller):
    """aiosmtpd's controller checks the server by connecting to `port`; with port 0 that is
    the port the OS chose, which it learns here first."""

    def _trigger_server(self) -> Any:
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


@dataclass
class MailSink:
    """Every message the SMTP server accepted."""

    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[MailSink]:
    """A real SMTP server on 127.0.0.1."""
    sink = MailSink()
    controller = _PortZeroController(sink, hostname="127.0.0.1", port=0)
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class WebhookSink:
    """Every request the receiver got: headers and body; answers `status`."""

    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    url: str = ""
    location: str | None = None  # sent as `Location` (a redirect answer)


@contextmanager
def webhook_server() -> Iterator[WebhookSink]:
    """A real HTTP server on 127.0.0.1 that records what is POSTed to it."""
    sink = WebhookSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sink.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(sink.status)
            if sink.location:
                self.send_header("Location", sink.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/bankgate"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
