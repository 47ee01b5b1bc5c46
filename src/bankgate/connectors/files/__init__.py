"""File-exchange channel (EDI/H2H): pain.001 out, pain.002 / camt.05x / MT940 in, over SFTP.

`connect(bank, mapping)` builds the channel from configuration (docs/file-channel.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bankgate.connectors.files.channel import CAPABILITIES, FilesChannel, InboundFile, Listing
from bankgate.connectors.files.config import FilesConfig
from bankgate.connectors.files.wire import RemoteFile, UnsafeName, kind_of, outbound_name

__all__ = ["CAPABILITIES", "FilesChannel", "FilesConfig", "InboundFile", "Listing",
           "RemoteFile", "UnsafeName", "connect", "kind_of", "outbound_name"]


def connect(bank: str, config: Mapping[str, Any]) -> FilesChannel:
    """A file channel for `bank`; ConfigError names the bank and key that are wrong."""
    return FilesChannel(FilesConfig.from_mapping(bank, config))
