"""Front-end processor channel (前置机): the Chinese direct-connect model.

The gateway posts the bank's own XML (GBK, the bank's transaction codes) to the front-end
machine; the front-end signs it with the token (SM2-SM3) and forwards it to the bank.
`connect(bank, mapping)` builds the channel from configuration (docs/frontend-channel.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bankgate.connectors.frontend.banks import BANKS, FrontendBank
from bankgate.connectors.frontend.channel import CAPABILITIES, FrontendChannel
from bankgate.connectors.frontend.config import FrontendConfig

__all__ = ["BANKS", "CAPABILITIES", "FrontendBank", "FrontendChannel", "FrontendConfig",
           "connect"]


def connect(bank: str, config: Mapping[str, Any]) -> FrontendChannel:
    """A front-end channel for `bank`; ConfigError names the bank and key that are wrong."""
    return FrontendChannel(FrontendConfig.from_mapping(bank, config))
