"""End-to-end fixtures: a sandbox bank per test, the gateway on the parametrised store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bankgate.bootstrap import App, build_app
from bankgate.settings import Settings
from tests.e2e.harness import gateway_config, write_config


@pytest.fixture
def world() -> Any:
    from bankgate.sandbox.demo_world import demo_world

    return demo_world(seed=7)


@pytest.fixture
def sandbox(world: Any, tmp_path: Path) -> Iterator[Any]:
    from bankgate.sandbox.run import start_sandbox

    with start_sandbox(world, state_dir=tmp_path / "sandbox", settle_delay_s=0.1) as running:
        yield running


@pytest.fixture
def config(sandbox: Any, world: Any) -> dict[str, Any]:
    return gateway_config(sandbox, world)


@pytest.fixture
def config_file(config: dict[str, Any], tmp_path: Path) -> Path:
    return write_config(tmp_path / "bankgate.toml", config)


@pytest.fixture
def gateway(store_url: str, config: dict[str, Any]) -> Iterator[App]:
    app = build_app(Settings(db_url=store_url), config)
    yield app
    app.close()


@pytest.fixture
def payees(world: Any) -> list[dict[str, Any]]:
    from bankgate.sandbox.demo_world import demo_payees

    return demo_payees(world)
