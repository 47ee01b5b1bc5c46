"""Settings read once from the environment; frozen after that."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "default_sqlite_url"]


def default_sqlite_url(directory: Path) -> str:
    """The embedded default store: a SQLite file in `directory`."""
    return f"sqlite:///{(directory / 'bankgate.db').resolve()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What a bankgate process needs to know about its surroundings."""

    db_url: str
    config_file: Path | None = None  # banks and channels (TOML); see docs/configuration.md
    worker_concurrency: int = 4
    # how long a request waits for a free store connection before it is refused (I-03)
    db_pool_timeout_s: float = 10.0
    test_hooks: bool = False  # crash points for the crash tests (BANKGATE_TEST_HOOKS=1)

    @classmethod
    def from_env(cls, *, data_dir: Path | None = None) -> Settings:
        """Settings from BANKGATE_* variables; the store defaults to ./var/bankgate.db."""
        env = os.environ
        directory = data_dir or Path(env.get("BANKGATE_DATA_DIR", "var"))
        url = env.get("BANKGATE_DB_URL") or default_sqlite_url(directory)
        config = env.get("BANKGATE_CONFIG")
        return cls(
            db_url=url,
            config_file=Path(config) if config else None,
            worker_concurrency=int(env.get("BANKGATE_WORKER_CONCURRENCY", "4")),
            db_pool_timeout_s=float(env.get("BANKGATE_DB_POOL_TIMEOUT_S", "10")),
            test_hooks=env.get("BANKGATE_TEST_HOOKS") == "1",
        )
