"""Start-up stays light: a structural check of what `bankgate` imports before a verb runs.

Every CLI test (and every user command) starts a process; the libraries named here cost
0.05-0.25 s each to import (asyncssh, alembic, matplotlib, openpyxl with numpy, the store's
SQLAlchemy) and are imported by the verb that uses them, not by the command line or the
composition root. No timing is asserted (too noisy on a shared machine); the import graph is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bankgate.store import make_engine, migrate

#: Never imported by `import bankgate.cli.main` (what `bankgate --help` runs).
HEAVY = frozenset({"alembic", "argon2", "asyncssh", "croniter", "cryptography", "fastapi",
                   "httpx", "lxml", "matplotlib", "numpy", "openpyxl", "PIL", "pkcs11",
                   "schwifty", "sqlalchemy", "starlette", "tongsuopy", "uvicorn"})
#: Never imported by `import bankgate.bootstrap` (what every verb with a store loads).
HEAVY_FOR_THE_STORE = frozenset({"alembic", "asyncssh", "fastapi", "httpx", "matplotlib",
                                 "numpy", "openpyxl", "PIL", "pkcs11", "schwifty",
                                 "starlette", "uvicorn"})


def _loaded(code: str, roots: frozenset[str]) -> list[str]:
    """The top-level packages among `roots` that `code`, run in a fresh process, imported."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
             f"set({sorted(roots)!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_the_command_line_imports_no_heavy_library_before_a_verb_runs():
    assert _loaded("import bankgate.cli.main", HEAVY) == []


def test_the_command_line_imports_no_store_service_or_channel_before_a_verb_runs():
    ours = {"bankgate.bootstrap", "bankgate.store", "bankgate.services", "bankgate.connectors",
            "bankgate.formats", "bankgate.api", "bankgate.sandbox"}
    probe = ("import bankgate.cli.main, json, sys\n"
             f"print(json.dumps(sorted(m for m in sys.modules if any("
             f"m == p or m.startswith(p + '.') for p in {sorted(ours)!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert json.loads(done.stdout) == []


def test_the_composition_root_leaves_sftp_migrations_charts_and_spreadsheets_to_their_users():
    assert _loaded("import bankgate.bootstrap", HEAVY_FOR_THE_STORE) == []


def test_the_file_readers_leave_spreadsheets_to_the_xlsx_reader():
    # `bankgate parse` of any file loads formats.parse; only an .xlsx needs openpyxl
    assert _loaded("import bankgate.formats.parse", frozenset({"openpyxl", "numpy", "PIL"})) \
        == []


def test_opening_a_store_at_the_newest_schema_does_not_load_alembic(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    code = ("from bankgate.store import make_engine, migrate\n"
            f"engine = make_engine({url!r})\nmigrate(engine)\nengine.dispose()")
    assert _loaded(code, frozenset({"alembic"})) == []
