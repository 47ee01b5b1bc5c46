"""Outbound notifications: signed webhooks (HMAC-SHA256 + timestamp) and SMTP mail."""

from __future__ import annotations

import time

import pytest

from bankgate.errors import ConfigError
from bankgate.notify import DeliveryFailed, Mailer, SmtpConfig, WebhookSender, sign, verify
from tests.notify_servers import smtp_server, webhook_server

SECRET = b"0123456789abcdef-secret"


def test_a_signature_binds_the_body_and_the_timestamp():
    stamp = int(time.time())
    signature = sign(SECRET, stamp, b'{"a":1}')
    assert verify(SECRET, timestamp=str(stamp), signature=signature, body=b'{"a":1}',
                  now=stamp)
    assert not verify(SECRET, timestamp=str(stamp), signature=signature, body=b'{"a":2}',
                      now=stamp)
    assert not verify(SECRET, timestamp=str(stamp + 1), signature=signature, body=b'{"a":1}',
                      now=stamp)


def test_a_captured_webhook_replayed_later_is_refused_by_the_timestamp_window():
    stamp = int(time.time()) - 301
    signature = sign(SECRET, stamp, b"{}")
    assert not verify(SECRET, timestamp=str(stamp), signature=signature, body=b"{}",
                      now=time.time())
    assert not verify(SECRET, timestamp="soon", signature=signature, body=b"{}",
                      now=time.time())


def test_a_webhook_arrives_signed_and_a_refusal_is_a_failed_delivery():
    with webhook_server() as hook:
        sender = WebhookSender(hook.url, SECRET)
        try:
            sender.send("evt-1", b'{"event":"claim.paid"}')
            [(headers, body)] = hook.requests
            assert headers["x-bankgate-event"] == "evt-1"
            assert verify(SECRET, timestamp=headers["x-bankgate-timestamp"],
                          signature=headers["x-bankgate-signature"], body=body,
                          now=time.time())
            hook.status = 500
            with pytest.raises(DeliveryFailed, match="HTTP 500"):
                sender.send("evt-2", b"{}")
        finally:
            sender.close()


def test_A16_a_webhook_redirect_is_a_failed_delivery_never_followed():
    """A-16 (SSRF): a receiver answering 307 towards another host (here: a second local
    server standing in for an internal address) does not make the gateway POST there."""
    with webhook_server() as hook, webhook_server() as internal:
        hook.status, hook.location = 307, internal.url
        sender = WebhookSender(hook.url, SECRET)
        try:
            with pytest.raises(DeliveryFailed, match="HTTP 307"):
                sender.send("evt-1", b"{}")
        finally:
            sender.close()
    assert len(hook.requests) == 1 and internal.requests == []


@pytest.mark.parametrize(("url", "secret", "message"), [
    ("ftp://erp.example/hook", SECRET, "http\\(s\\) URL"),
    ("https://erp.example/hook", b"short", "at least 16 bytes")])
def test_a_webhook_needs_an_http_url_and_a_real_secret(url, secret, message):
    with pytest.raises(ConfigError, match=message):
        WebhookSender(url, secret)


def test_mail_goes_through_a_real_smtp_server_in_utf8():
    with smtp_server() as mail:
        Mailer(SmtpConfig(host="127.0.0.1", port=mail.port, sender="bankgate@example.com")
               ).send("zhang@example.com", "报销已到账", "张伟：您的报销已到账。")
    [message] = mail.messages
    assert message["Subject"] == "报销已到账" and "您的报销已到账" in message.get_content()


def test_an_unreachable_smtp_server_is_a_failed_delivery_not_a_crash():
    with smtp_server() as mail:
        port = mail.port
    with pytest.raises(DeliveryFailed, match="ConnectionRefusedError"):
        Mailer(SmtpConfig(host="127.0.0.1", port=port, sender="b@example.com",
                          timeout_s=1)).send("x@example.com", "s", "b")
    with pytest.raises(ConfigError, match="not a mail address"):
        SmtpConfig(host="127.0.0.1", port=25, sender="bankgate")
