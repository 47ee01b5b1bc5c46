"""Named crash points for the crash tests (RELIABILITY.md 2.1): a real SIGKILL, test builds only.

`crash_point("dispatch.after_mark_sending")` kills the process when BANKGATE_TEST_HOOKS=1 and
BANKGATE_CRASH_AT names that point; otherwise it does nothing.
"""

from __future__ import annotations

import os
import signal

__all__ = ["crash_point"]


def crash_point(name: str) -> None:
    """Die here, for real, if the crash test asked for it."""
    if os.environ.get("BANKGATE_TEST_HOOKS") == "1" and os.environ.get("BANKGATE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
