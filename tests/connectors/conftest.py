"""Fixtures of the connector tests: one real sandbox (TLS, three dialects) per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bankgate.sandbox.run import RunningSandbox, start_sandbox
from tests.connectors.world import small_world


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """The real sandbox banks over TLS, shared by a module (ids are unique per test)."""
    state = tmp_path_factory.mktemp("sandbox")
    with start_sandbox(small_world(), state_dir=state, settle_delay_s=0.05) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever faults a test set are cleared after it."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").set_faults(reset=True)
