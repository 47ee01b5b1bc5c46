"""The one error of outbound delivery."""

from __future__ import annotations

from bankgate.errors import ChannelError

__all__ = ["DeliveryFailed"]


class DeliveryFailed(ChannelError):
    """A message did not get through (refused, timed out, unreachable); it stays queued."""

    code = "delivery_failed"
