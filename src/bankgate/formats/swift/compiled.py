"""The compiled half of the MT940 reader (`swift/_mt940_speedups.pyx`), when it was built.

`pip install -e .` builds it where Cython and a C compiler are at hand (setup.py); without
it, or with `BANKGATE_PURE_PYTHON=1`, `C` is None and the Python twins in `mt940.py` and
`field86.py` give the same values (test_mt940_compiled.py runs both and compares).
"""

from __future__ import annotations

import os
from typing import Any, Final

__all__ = ["C"]


def _load() -> Any:
    if os.environ.get("BANKGATE_PURE_PYTHON"):
        return None
    try:
        from bankgate.formats.swift import _mt940_speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _mt940_speedups


#: The compiled module, or None.
C: Final = _load()
