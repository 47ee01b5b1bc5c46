"""bankgate/atomic.py: one way to write a key, a certificate or an export file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bankgate.atomic import write_atomically
from bankgate.errors import ConfigError


def test_a_file_is_written_whole_with_its_mode_and_no_temporary_left(tmp_path: Path):
    target = tmp_path / "key.pem"
    target.write_bytes(b"old")
    write_atomically(target, b"new" * 100_000, mode=0o600)
    assert target.read_bytes() == b"new" * 100_000
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def test_a_file_that_cannot_be_written_is_one_clear_error_and_leaves_nothing(tmp_path: Path):
    target = tmp_path / "a-directory"
    target.mkdir()
    with pytest.raises(ConfigError, match=r"cannot write .*a-directory"):
        write_atomically(target, b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["a-directory"]
