"""Cryptography: signers and verifiers (software RSA/ECDSA, SM2, PKCS#11 tokens), digests and
canonical hashes, batch manifests, the test PKI with path validation and CRLs, sealed secrets.

Modules are imported where used (`bankgate.crypto.sm` loads tongsuopy, `bankgate.crypto.token`
loads python-pkcs11); this package re-exports only the test PKI, as before, loaded on first
use: `bankgate.crypto.pki` imports cryptography.x509 (~25 ms), which a process that only
opens the store (every CLI verb) does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bankgate.crypto.pki import (
        TestPki,
        client_ssl_context,
        issue_test_pki,
        server_ssl_context,
    )

__all__ = ["TestPki", "client_ssl_context", "issue_test_pki", "server_ssl_context"]


def __getattr__(name: str) -> Any:
    """The test PKI's names, imported when first asked for (PEP 562)."""
    if name in __all__:
        from bankgate.crypto import pki

        return getattr(pki, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
