"""INV-7 in logs: a long digit run (an account number, also inside a URL) never reaches a log.

Installed once where logging is set up (the CLI's callback, the API app, the worker): it
wraps the log record factory, so it covers every logger — ours and the libraries' (httpx
logs each request's URL at INFO, and host-API paths name the account) — and every handler,
including ones added later. The message is formatted with its arguments and masked when the
record is made (only records of an enabled level are made); a traceback is masked too.
Structured `extra=` fields are not seen here: our code masks those itself.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

__all__ = ["install_log_masking", "mask_log_text"]

#: Account numbers are 12 to 34 digits; shorter runs (dates, amounts, ids) stay readable.
_LONG_DIGITS: Final = re.compile(r"[0-9]{12,}")
_MARK: Final = "_bankgate_masks_numbers"


def mask_log_text(text: str) -> str:
    """`text` with every run of 12 or more digits masked (first and last four kept)."""
    # imported here, not above: the CLI installs the masking before each verb, and `--help`
    # should not load the domain package for a record it never makes
    from bankgate.domain.parties import mask_numbers

    return _LONG_DIGITS.sub(lambda m: mask_numbers(m.group(0)), text)


def install_log_masking() -> None:
    """Mask every log record from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MARK, False):
        return

    def masked(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask(record)
        return record

    setattr(masked, _MARK, True)
    logging.setLogRecordFactory(masked)


def _mask(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as logging does
        return
    record.msg, record.args = mask_log_text(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_log_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask_log_text(record.stack_info)
