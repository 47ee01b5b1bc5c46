"""The composition root: settings + configuration → engine, channels, accounts → one `App`.

Only this module builds concrete things; interfaces (CLI, API) and tests call `build_app`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from bankgate.connectors import open_channel
from bankgate.connectors.base import Channel, Logged
from bankgate.crypto.sealer import BoxSealer, Sealer, sealer_from_env
from bankgate.errors import ConfigError
from bankgate.services.accounts import account_from_mapping, register_accounts
from bankgate.services.expiry_job import SecurityConfig, security_config
from bankgate.services.finance_config import FINANCE_SECTIONS, FinanceConfig, finance_config
from bankgate.services.flow_jobs import FlowJobsConfig, flow_jobs_config
from bankgate.services.policies import ensure_policy
from bankgate.services.status import FollowUp
from bankgate.settings import Settings
from bankgate.store import UnitOfWork, make_engine, migrate
from bankgate.store.sealed import cipher_of

if TYPE_CHECKING:  # the job handlers (and the channels' services) load for the worker only
    from bankgate.services.jobs import JobContext

__all__ = ["App", "build_app", "load_config", "utc_now"]


def utc_now() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


@dataclass
class App:
    """Everything a running bankgate needs, built once."""

    settings: Settings
    engine: Engine
    channels: dict[str, Channel]
    follow: FollowUp = field(default_factory=FollowUp)
    now: Callable[[], datetime] = utc_now
    finance: FinanceConfig = field(default_factory=FinanceConfig)  # sync, recon, reports
    # TOTP secrets at rest; build_app passes the store's (one master key, crypto/master_key.py)
    sealer: Sealer = field(default_factory=sealer_from_env)
    flow_jobs: FlowJobsConfig = field(default_factory=FlowJobsConfig)  # [flows] schedules
    security: SecurityConfig = field(default_factory=SecurityConfig)  # [security]: watch, alerts

    def uow(self) -> UnitOfWork:
        """A new unit of work (one transaction)."""
        return UnitOfWork(self.engine)

    def job_context(self) -> JobContext:
        """What the worker hands to job handlers."""
        from bankgate.services.jobs import JobContext

        return JobContext(uow=self.uow, channels=self.channels, now=self.now,
                          follow=self.follow, security=self.security)

    def close(self) -> None:
        """Close channels and the engine's pool."""
        for channel in self.channels.values():
            channel.close()
        self.engine.dispose()


def load_config(path: Path) -> dict[str, Any]:
    """Read the banks-and-accounts configuration (TOML); ConfigError names the problem."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def build_app(settings: Settings, config: Mapping[str, Any] | None = None, *,
              upgrade_db: bool = True) -> App:
    """Build the App: migrate the store, open one channel per bank, register accounts."""
    if config is None:
        config = load_config(settings.config_file) if settings.config_file else {}
    # [security] is the expiry watch's (services/expiry.py, `bankgate security expiry`)
    unknown = sorted(set(config) - {"banks", "accounts", "follow", "policy", "flows",
                                    "security", *FINANCE_SECTIONS})
    if unknown:
        raise ConfigError(f"configuration: unknown section {unknown[0]!r} (banks, accounts, "
                          "follow, policy, flows, security, sync, recon, reports)")
    engine = make_engine(settings.db_url, pool_size=max(5, settings.worker_concurrency + 2),
                         pool_timeout_s=settings.db_pool_timeout_s)
    channels: dict[str, Channel] = {}
    try:  # a configuration refused halfway leaves no connection or channel open behind it
        # one master key for the store's sealed columns and the TOTP secrets (issue 5); asked
        # for now, so a missing or bad key stops the start instead of the first payment
        sealer = BoxSealer(cipher_of(engine).box)
        if upgrade_db:
            migrate(engine)
        channels = _channels(config.get("banks", {}))
        app = App(settings=settings, engine=engine, channels=channels, sealer=sealer,
                  follow=_follow(config.get("follow", {})), finance=finance_config(config),
                  flow_jobs=flow_jobs_config(config.get("flows", {})),
                  security=security_config(config.get("security", {}), env=os.environ,
                                           base=_config_dir(settings)))
        accounts = [account_from_mapping(raw, where=f"accounts[{i}]")
                    for i, raw in enumerate(config.get("accounts", []))]
        if accounts:
            register_accounts(uow=app.uow, accounts=accounts, now=app.now)
        ensure_policy(uow=app.uow, spec=config.get("policy"), now=app.now)  # issue 5: policy
    except BaseException:
        _close_all(channels)
        engine.dispose()
        raise
    return app


def _config_dir(settings: Settings) -> Path:
    """Where relative paths of the configuration start: its folder, else the working one."""
    return settings.config_file.parent if settings.config_file else Path.cwd()


def _channels(banks: Mapping[str, Any]) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    try:
        for bank, raw in banks.items():
            if not isinstance(raw, Mapping) or "kind" not in raw:
                raise ConfigError(f"banks.{bank}: needs a table with at least 'kind'")
            options = {k: v for k, v in raw.items() if k != "kind"}
            channels[bank] = Logged(open_channel(str(raw["kind"]), bank, options))
    except BaseException:
        _close_all(channels)  # the banks opened before the one refused
        raise
    return channels


def _close_all(channels: Mapping[str, Channel]) -> None:
    for channel in channels.values():
        channel.close()


def _follow(raw: Mapping[str, Any]) -> FollowUp:
    allowed = set(FollowUp.__dataclass_fields__)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"follow: unknown key {unknown[0]!r} ({', '.join(sorted(allowed))})")
    counts = {"max_resends", "poll_alert_after"}
    return FollowUp(**{k: int(v) if k in counts else float(v) for k, v in raw.items()})
