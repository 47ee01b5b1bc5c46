"""Bank channels: one package per channel kind, all answering `base.Channel`.

`CHANNELS` is the explicit, greppable table of channel kinds; `open_channel` imports the
chosen one lazily. Bank-specific quirks live inside their channel package and nowhere else.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

from bankgate.connectors.base import Channel
from bankgate.errors import ConfigError

__all__ = ["CHANNELS", "open_channel"]

CHANNELS: Final[Mapping[str, str]] = {
    "hostapi": "bankgate.connectors.hostapi:connect",
    "files": "bankgate.connectors.files:connect",
    "frontend": "bankgate.connectors.frontend:connect",
}


def open_channel(kind: str, bank: str, config: Mapping[str, Any]) -> Channel:
    """A channel of `kind` for `bank`, built from its configuration mapping."""
    target = CHANNELS.get(kind)
    if target is None:
        raise ConfigError(f"bank {bank}: unknown channel kind {kind!r} "
                          f"(known: {', '.join(sorted(CHANNELS))})")
    module_name, factory = target.split(":")
    module = importlib.import_module(module_name)
    channel: Channel = getattr(module, factory)(bank, config)
    return channel
