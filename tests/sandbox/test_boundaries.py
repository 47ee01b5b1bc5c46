"""The sandbox is the other side: it never imports the gateway's services, store or interfaces."""

from __future__ import annotations

import ast
from pathlib import Path

import bankgate.sandbox

FORBIDDEN = ("bankgate.services", "bankgate.store", "bankgate.api", "bankgate.cli",
             "bankgate.bootstrap", "bankgate.connectors")


def test_the_sandbox_imports_only_domain_crypto_errors_and_itself():
    folder = Path(bankgate.sandbox.__file__).parent
    for module in folder.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad = [n for n in names if n.startswith(FORBIDDEN)]
            assert not bad, f"{module.name} imports {bad}"
