"""Host API channel (银行开放API): JSON over HTTPS, one dialect table per bank.

`connect(bank, mapping)` builds the channel from configuration (docs/connectors.md); the
wire contract is docs/hostapi-protocol.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bankgate.connectors.hostapi.banks import DIALECTS, DUPLICATE_REASON, BankError, Dialect
from bankgate.connectors.hostapi.channel import CAPABILITIES, HostApiChannel
from bankgate.connectors.hostapi.config import HostApiConfig

__all__ = ["CAPABILITIES", "DIALECTS", "DUPLICATE_REASON", "BankError", "Dialect",
           "HostApiChannel", "HostApiConfig", "connect"]


def connect(bank: str, config: Mapping[str, Any]) -> HostApiChannel:
    """A host API channel for `bank`; ConfigError names the bank and key that are wrong."""
    return HostApiChannel(HostApiConfig.from_mapping(bank, config))
