"""What goes out to the company's own systems and people: signed webhooks and mail.

`connectors/` is for banks and payment platforms; this package is for the ERP and employees.
Senders raise `DeliveryFailed` (safe to retry: a message is queued until it is delivered).
"""

from bankgate.notify.errors import DeliveryFailed
from bankgate.notify.mail import Mailer, SmtpConfig
from bankgate.notify.webhook import WebhookSender, sign, verify

__all__ = ["DeliveryFailed", "Mailer", "SmtpConfig", "WebhookSender", "sign", "verify"]
