"""The file collector as a recurring job: each file bank collected every `collect_every_s`.

Like sync's schedule (services/sync.py): one `collect_files` job waits per bank (dedupe key);
when the worker runs it, it collects and queues its own next run. A bank that cannot be
reached is collected again at the next run; what was done stays done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bankgate.connectors.base import Channel
from bankgate.errors import ChannelError
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.files import collect_files, file_channel
from bankgate.store import NewJob, UnitOfWork

__all__ = ["KIND", "collect_job", "file_banks", "run_collect_job", "schedule_collect"]

log = logging.getLogger(__name__)
KIND = "collect_files"


def file_banks(channels: Mapping[str, Channel]) -> list[str]:
    """The banks reached by file exchange."""
    return [bank for bank in sorted(channels)
            if getattr(getattr(channels[bank], "inner", channels[bank]), "kind", "") == "files"]


def collect_job(bank: str, every_s: float, *, first: bool = False) -> NewJob:
    """The next collection of one bank's files (the first one runs at once)."""
    return NewJob(KIND, {"bank": bank}, dedupe_key=f"{KIND}:{bank}",
                  delay_s=0.0 if first else every_s, max_attempts=50)


def schedule_collect(*, uow: UowFactory, channels: Mapping[str, Channel],
                     now: Callable[[], datetime]) -> int:
    """Queue a collection of every file bank (no-op for a bank already queued)."""
    def enqueue(unit: UnitOfWork) -> int:
        jobs = [collect_job(bank, file_channel(channels, bank).collect_every_s, first=True)
                for bank in file_banks(channels)]
        unit.jobs.enqueue_many(jobs, now=now())
        return len(jobs)

    return in_transaction(uow, enqueue)


def run_collect_job(*, uow: UowFactory, channels: Mapping[str, Channel],
                    now: Callable[[], datetime], payload: Mapping[str, Any]) -> str:
    """The worker's handler: collect one bank's files, then queue its next run."""
    channel = file_channel(channels, payload["bank"])
    try:
        done = collect_files(uow=uow, channel=channel, now=now)
        outcome = f"{done.processed} processed, {done.skipped} done before"
    except ChannelError as exc:
        log.warning("file collection failed", extra={"bank": channel.bank, "error": str(exc)})
        outcome = f"bank unreachable, next run in {channel.collect_every_s:g} s"
    at = now()
    in_transaction(uow, lambda u: u.jobs.enqueue(
        collect_job(channel.bank, channel.collect_every_s), now=at))
    return outcome
