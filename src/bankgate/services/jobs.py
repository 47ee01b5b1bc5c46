"""Job kind → handler: the table the worker runs from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from bankgate.connectors.base import Channel
from bankgate.services._tx import UowFactory, in_transaction
from bankgate.services.alerts import DELIVER, run_deliver_job
from bankgate.services.batching import form_batches
from bankgate.services.collect_job import KIND as COLLECT
from bankgate.services.collect_job import run_collect_job
from bankgate.services.dispatch import dispatch_batch
from bankgate.services.expiry_job import KIND as EXPIRY
from bankgate.services.expiry_job import SecurityConfig, run_expiry_job
from bankgate.services.flow_jobs import FLOW_HANDLERS, follow_now
from bankgate.services.statements import fetch_statement
from bankgate.services.status import FollowUp, poll_batch
from bankgate.services.sync import run_sync_job

__all__ = ["HANDLERS", "RECURRING", "JobContext", "run_job"]

#: Kinds that queue their own next run: a future one is a schedule, not work left to do.
RECURRING: Final = frozenset({"sync", COLLECT, *FLOW_HANDLERS, EXPIRY})  # flows: issue 7


@dataclass(frozen=True, slots=True)
class JobContext:
    """What every handler may use."""

    uow: UowFactory
    channels: Mapping[str, Channel]
    now: Callable[[], datetime]
    follow: FollowUp
    security: SecurityConfig = field(default_factory=SecurityConfig)  # the expiry watch, alerts


def _form_batches(ctx: JobContext, payload: Mapping[str, Any]) -> str:
    return f"{len(form_batches(uow=ctx.uow, now=ctx.now))} batches formed"


def _dispatch(ctx: JobContext, payload: Mapping[str, Any]) -> str:
    return dispatch_batch(uow=ctx.uow, channels=ctx.channels, batch_id=payload["batch_id"],
                          now=ctx.now, follow=ctx.follow)


def _poll(ctx: JobContext, payload: Mapping[str, Any]) -> str:
    applied = poll_batch(uow=ctx.uow, channels=ctx.channels, batch_id=payload["batch_id"],
                         round_=int(payload.get("round", 0)), now=ctx.now, follow=ctx.follow,
                         failed=int(payload.get("failed", 0)))
    if applied.moved:  # claims and transfers follow their orders at once (issue 7)
        in_transaction(ctx.uow, lambda unit: follow_now(unit, at=ctx.now()))
    return f"{applied.moved} moved, {applied.ignored} ignored"


def _statement(ctx: JobContext, payload: Mapping[str, Any]) -> str:
    fetched = fetch_statement(uow=ctx.uow, channels=ctx.channels,
                              account_id=payload["account_id"],
                              on=date.fromisoformat(payload["date"]), now=ctx.now)
    return f"{fetched.new_entries} new entries"


HANDLERS: Final[Mapping[str, Callable[[JobContext, Mapping[str, Any]], str]]] = {
    "form_batches": _form_batches,
    "dispatch": _dispatch,
    "poll_status": _poll,
    "fetch_statement": _statement,
    "sync": lambda ctx, payload: run_sync_job(uow=ctx.uow, channels=ctx.channels, now=ctx.now,
                                              payload=payload),
    EXPIRY: lambda ctx, payload: run_expiry_job(uow=ctx.uow, config=ctx.security, now=ctx.now),
    DELIVER: lambda ctx, payload: run_deliver_job(uow=ctx.uow, channels=ctx.security.alerts,
                                                  now=ctx.now),
    COLLECT: lambda ctx, payload: run_collect_job(uow=ctx.uow, channels=ctx.channels,
                                                  now=ctx.now, payload=payload),
    **{kind: (lambda run: lambda ctx, payload: run(uow=ctx.uow, channels=ctx.channels,
                                                   now=ctx.now, payload=payload))(handler)
       for kind, handler in FLOW_HANDLERS.items()},
}


def run_job(ctx: JobContext, kind: str, payload: Mapping[str, Any]) -> str:
    """Run one job by its kind."""
    handler = HANDLERS.get(kind)
    if handler is None:
        raise KeyError(f"no handler for job kind {kind!r}")
    return handler(ctx, payload)
