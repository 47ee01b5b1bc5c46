"""Writing a local file so that a reader never sees half of it, with its mode from the start."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from bankgate.errors import ConfigError

__all__ = ["write_atomically"]


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to a temporary file beside `path` (created with `mode`), flush it to
    disk, then rename it over `path`; nothing is left behind when that fails.

    Raises:
        ConfigError: the file cannot be written (naming it and why).
    """
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ConfigError(f"cannot write {path}: {exc}") from exc
