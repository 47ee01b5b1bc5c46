"""The demo's file-exchange bank: `boc` speaks SFTP (pain.001 out, pain.002/camt in).

`use_file_channel` turns one bank of the demo configuration into a file-exchange bank on
the sandbox's SFTP server; `exchange_files` collects its files once more (exactly once, by
content hash) and says what went each way.
"""

from __future__ import annotations

from typing import Any, Final

from bankgate.bootstrap import App
from bankgate.services.files import collect_files, file_channel, transfer_counts

__all__ = ["FILE_BANK", "exchange_files", "use_file_channel"]

#: The demo bank reached by file exchange instead of its host API.
FILE_BANK: Final = "boc"


def use_file_channel(config: dict[str, Any], sandbox: Any,
                     bank: str = FILE_BANK) -> dict[str, Any]:
    """`config` with `bank` reached over the sandbox's SFTP bank (kind "files")."""
    config["banks"][bank] = {"kind": "files", **sandbox.sftp.client_options(bank),
                             "timeout_s": 10.0}
    return config


def exchange_files(app: App, bank: str = FILE_BANK) -> dict[str, Any]:
    """Collect the file bank's inbound files and count the files of the whole run."""
    collected = collect_files(uow=app.uow, channel=file_channel(app.channels, bank),
                              now=app.now)
    counts = transfer_counts(uow=app.uow, bank=bank)
    return {"bank": bank, "processed_now": collected.processed,
            "already_done": collected.skipped, "conflicts": collected.conflicts,
            "out": counts["out"], "in": counts["in"]}


def describe(summary: dict[str, Any]) -> str:
    """One line for the demo's story."""
    def side(counts: dict[str, int]) -> str:
        return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "none"
    return (f"\n4b. Files exchanged with {summary['bank']} over SFTP 文件交换: "
            f"out: {side(summary['out'])}; in: {side(summary['in'])}")
