"""`bankgate audit` — verify the hash-chained audit log and export its head (checkpoint)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import typer

from bankgate.cli.errors import EXIT_FAILED, one_line_errors
from bankgate.errors import ConfigError
from bankgate.settings import Settings

__all__ = ["audit_cli"]

audit_cli = typer.Typer(no_args_is_help=True,
                        help="The tamper-evident audit log (审计日志): verify, export the head.")


@audit_cli.command("verify")
@one_line_errors
def verify(checkpoint: Path | None = typer.Option(None, "--checkpoint", help="A checkpoint "
                                                   "from `audit export-head` the chain must "
                                                   "still contain."),
           public_key: Path | None = typer.Option(None, "--public-key", help="PEM public "
                                                   "key the checkpoint must be signed by."),
           incremental: bool = typer.Option(False, help="Trust the checkpoint and verify "
                                            "only the records after it."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Exit 0 if the chain on BANKGATE_DB_URL is intact; else 1, naming the first bad record."""
    from bankgate.services.audit import verify_store

    if incremental and checkpoint is None:
        raise ConfigError("--incremental needs --checkpoint")
    report = verify_store(Settings.from_env().db_url, checkpoint_file=checkpoint,
                          public_key_file=public_key,
                          incremental=incremental)
    broken = report.broken
    if as_json:
        print(json.dumps({"intact": broken is None, "checked": report.checked,
                          "head_seq": report.head_seq,
                          "broken": None if broken is None else {
                              "seq": broken.seq, "kind": str(broken.kind),
                              "message": broken.message}}))
    elif broken is None:
        print(f"audit chain intact: {report.checked} records checked "
              f"(from {report.first_seq}), head at {report.head_seq}")
    if broken is not None:
        if not as_json:
            typer.echo(f"audit chain broken at record {broken.seq} ({broken.kind}): "
                       f"{broken.message}", err=True)
        raise typer.Exit(EXIT_FAILED)


@audit_cli.command("export-head")
@one_line_errors
def export_head(out: Path = typer.Option(..., "--out", help="Where to write the checkpoint."),
                key: Path | None = typer.Option(None, "--key", help="Encrypted PEM key to sign "
                                                "it with (password in "
                                                "BANKGATE_AUDIT_KEY_PASSWORD).")) -> None:
    """Write the chain head (sequence, hash, time), signed if a key is given."""
    from bankgate.services.audit import write_checkpoint

    document = write_checkpoint(Settings.from_env().db_url, out, now=dt.datetime.now(dt.UTC),
                                key_file=key,
                                password=os.environ.get("BANKGATE_AUDIT_KEY_PASSWORD", ""))
    signed = "signed" if "signature" in document else "unsigned"
    print(f"checkpoint {out}: record {document['seq']} hash {document['hash'][:16]}… ({signed})")

