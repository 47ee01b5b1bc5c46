"""The expiry watch: certificates, token PINs and bank credentials that expire are reported
well before they do (I-10), so payments and syncs never stop silently.

What to watch is data (TOML), either a file of its own or the `[security]` table of the
bankgate configuration:

    warn_days = 30                          # warn this many days before (default 30)
    [[certificate]]
    name = "icbc client"                    # optional; the file name otherwise
    path = "var/pki/client.pem"
    [[token]]
    label = "ukey-icbc"
    pin_changed_on = 2026-06-01
    pin_max_age_days = 180
    [[credential]]
    bank = "icbc"
    name = "host API password"
    expires_on = 2027-01-15
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from bankgate.errors import ConfigError

__all__ = ["DEFAULT_WARN_DAYS", "Expiring", "Finding", "Level", "check_expiry",
           "load_watch", "watch_file"]

log = logging.getLogger(__name__)
DEFAULT_WARN_DAYS = 30


class Level(StrEnum):
    """How urgent an expiry is."""

    OK = "ok"
    DUE = "due"  # inside the warning window
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Expiring:
    """Something that stops working at `expires_at`."""

    kind: str  # certificate, token_pin, credential
    name: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Finding:
    """An item with its days left and level."""

    item: Expiring
    days_left: float
    level: Level

    def line(self) -> str:
        """One line for people: what, when, how long from now."""
        when = self.item.expires_at.date().isoformat()
        if self.level is Level.EXPIRED:
            return f"EXPIRED {self.item.kind} {self.item.name}: expired on {when}"
        return (f"{self.level.upper()} {self.item.kind} {self.item.name}: expires on {when} "
                f"(in {int(self.days_left)} days)")


def check_expiry(items: Iterable[Expiring], *, now: dt.datetime,
                 warn_days: int = DEFAULT_WARN_DAYS) -> list[Finding]:
    """Every item with its level, soonest first; due and expired ones are logged."""
    findings = []
    for item in items:
        days = (item.expires_at - now).total_seconds() / 86400
        level = Level.EXPIRED if days <= 0 else Level.DUE if days <= warn_days else Level.OK
        findings.append(Finding(item, days, level))
        if level is not Level.OK:
            log.log(logging.ERROR if level is Level.EXPIRED else logging.WARNING,
                    "expiry watch: %s", findings[-1].line())
    return sorted(findings, key=lambda f: f.days_left)


def watch_file(path: Path, *, extra_certificates: Sequence[Path] = ()
               ) -> tuple[list[Expiring], int]:
    """The items and the warning window a watch file (or bankgate config) names."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the expiry watch ({exc})") from exc
    return load_watch(document.get("security", document), base=path.parent,
                      extra_certificates=extra_certificates, where=str(path))


def load_watch(table: Mapping[str, Any], *, base: Path, where: str,
               extra_certificates: Sequence[Path] = ()) -> tuple[list[Expiring], int]:
    """Items from a parsed watch table; errors name the entry."""
    items = [_certificate({"path": str(p)}, base, where) for p in extra_certificates]
    for i, entry in enumerate(table.get("certificate", [])):
        items.append(_certificate(entry, base, f"{where}: certificate[{i}]"))
    for i, entry in enumerate(table.get("token", [])):
        place = f"{where}: token[{i}]"
        changed = _date(entry, "pin_changed_on", place)
        days = entry.get("pin_max_age_days")
        if not isinstance(days, int) or days < 1:
            raise ConfigError(f"{place}: pin_max_age_days must be a positive integer")
        items.append(Expiring("token_pin", str(entry.get("label", f"token {i}")),
                              changed + dt.timedelta(days=days)))
    for i, entry in enumerate(table.get("credential", [])):
        place = f"{where}: credential[{i}]"
        name = f"{entry.get('bank', '?')} {entry.get('name', 'credential')}"
        items.append(Expiring("credential", name, _date(entry, "expires_on", place)))
    warn = table.get("warn_days", DEFAULT_WARN_DAYS)
    if not isinstance(warn, int) or warn < 0:
        raise ConfigError(f"{where}: warn_days must be a non-negative integer")
    return items, warn


def _certificate(entry: Mapping[str, Any], base: Path, where: str) -> Expiring:
    if "path" not in entry:
        raise ConfigError(f"{where}: a certificate needs a path")
    from bankgate.crypto.pki import load_certificate  # deferred: cryptography.x509, ~25 ms

    path = base / str(entry["path"])
    cert = load_certificate(path)
    return Expiring("certificate", str(entry.get("name", path.name)), cert.not_valid_after_utc)


def _date(entry: Mapping[str, Any], key: str, where: str) -> dt.datetime:
    value = entry.get(key)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    raise ConfigError(f"{where}: {key} must be a date (YYYY-MM-DD), got {value!r}")
