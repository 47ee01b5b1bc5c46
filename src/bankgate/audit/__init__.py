"""The tamper-evident audit log: hash chaining and verification (storage lives in store/)."""

from bankgate.audit.chain import (
    GENESIS,
    Break,
    BreakKind,
    ChainedRecord,
    Checkpoint,
    find_break,
    link,
    verify,
)

__all__ = ["GENESIS", "Break", "BreakKind", "ChainedRecord", "Checkpoint", "find_break",
           "link", "verify"]
