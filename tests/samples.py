"""Where the real bank files are: `shared/samples` beside the checkout (as in CI), or
BANKGATE_SAMPLES. Tests that read them are skipped, saying why, where they are absent —
except in CI (CI=true), where a missing samples folder must fail loudly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SAMPLES = Path(os.environ.get("BANKGATE_SAMPLES")
               or Path(__file__).resolve().parents[2] / "shared" / "samples")
_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir() and not _IN_CI,
    reason=f"the real bank files are not at {SAMPLES} (set BANKGATE_SAMPLES)")
