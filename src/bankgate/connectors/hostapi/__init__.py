"""Host API channel (银行开放API): JSON over HTTPS, one dialect table per bank.

`connect(bank, mapping)` builds the channel from configuration (docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bankgate.connectors.hostapi.channel import CAPABILITIES, HostApiChannel
from bankgate.connectors.hostapi.config import HostApiConfig

__all__ = ["CAPABILITIES", "HostApiChannel", "HostApiConfig", "connect"]


def connect(bank: str, config: Mapping[str, Any]) -> HostApiChannel:
    """A host API channel for `bank`."""
    return HostApiChannel(HostApiConfig.from_mapping(bank, config))
