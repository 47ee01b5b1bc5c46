"""Mail to people through the configured SMTP server (stdlib smtplib, STARTTLS if asked)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from bankgate.errors import ConfigError
from bankgate.notify.errors import DeliveryFailed

__all__ = ["Mailer", "SmtpConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpConfig:
    """Where mail goes out: host, port, sender, and how to log in (optional)."""

    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.host or not 0 < self.port < 65536:
            raise ConfigError(f"smtp: host and a port of 1-65535 are needed, got "
                              f"{self.host!r}:{self.port}")
        if "@" not in self.sender:
            raise ConfigError(f"smtp.sender: {self.sender!r} is not a mail address")


class Mailer:
    """Sends one plain-text message per call; raises DeliveryFailed."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, to: str, subject: str, body: str, *, message_id: str | None = None) -> None:
        """Send `body` to `to` (UTF-8, so Chinese text travels as written)."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.config.sender, to, subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id or make_msgid(domain="bankgate")
        message.set_content(body)
        try:
            with smtplib.SMTP(self.config.host, self.config.port,
                              timeout=self.config.timeout_s) as smtp:
                if self.config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.config.username:
                    smtp.login(self.config.username, self.config.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"mail to {to} via {self.config.host}:{self.config.port}: "
                                 f"{type(exc).__name__}: {exc}") from exc
