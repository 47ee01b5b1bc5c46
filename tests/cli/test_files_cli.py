"""`bankgate files collect` and `bankgate files list` as real processes, on the SFTP bank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bankgate.connectors.files import connect
from bankgate.sandbox.run import RunningSandbox, start_sandbox
from tests.connectors.world import COMPANY, NUMBERS, a_batch, a_line, our_account, small_world
from tests.e2e.harness import write_config


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(small_world(), state_dir=tmp_path / "sandbox") as running:
        yield running


def _env(bank: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    config: dict[str, Any] = {
        "banks": {"boc": {"kind": "files", **bank.sftp.client_options("boc")}},
        "follow": {"poll_first_s": 0.2},
        "accounts": [{"id": "boc-cny", "bank": "boc", "number": NUMBERS["boc"][0],
                      "currency": "CNY", "name": COMPANY}]}
    path = write_config(tmp_path / "bankgate.toml", config)
    return {**os.environ, "BANKGATE_CONFIG": str(path),
            "BANKGATE_DB_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def _bankgate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bankgate", *args], capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.mark.slow
def test_files_collect_takes_each_file_once_and_files_list_shows_them(
        bank: RunningSandbox, tmp_path: Path) -> None:
    channel = connect("boc", bank.sftp.client_options("boc"))
    debtor = our_account("boc")
    lines = [a_line(debtor)]
    channel.submit(a_batch(debtor, lines), debtor, lines)
    channel.close()
    env = _env(bank, tmp_path)
    first = _bankgate(env, "files", "collect", "--json")
    assert first.returncode == 0, first.stderr
    (done,) = json.loads(first.stdout)["collected"]
    assert done["bank"] == "boc" and done["processed"] >= 2 and done["uploads_marked"] == 1
    again = json.loads(_bankgate(env, "files", "collect", "--json").stdout)["collected"][0]
    assert again["processed"] == 0 and again["skipped"] == done["processed"]
    listed = json.loads(_bankgate(env, "files", "list", "--json").stdout)["transfers"]
    assert {(t["direction"], t["state"]) for t in listed} == {("out", "uploaded"),
                                                              ("in", "processed")}
    assert all(len(t["sha256"]) == 64 for t in listed)


def test_files_collect_for_a_bank_without_a_file_channel_is_one_line_exit_2(
        bank: RunningSandbox, tmp_path: Path) -> None:
    done = _bankgate(_env(bank, tmp_path), "files", "collect", "--bank", "icbc")
    assert done.returncode == 2 and done.stderr.strip() == \
        "error: bank 'icbc' has no file channel"
