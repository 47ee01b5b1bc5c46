"""Cryptography: signers and verifiers (software RSA/ECDSA, SM2, PKCS#11 tokens), digests and
canonical hashes, batch manifests, the test PKI with path validation and CRLs, sealed secrets.

Modules are imported where used (`bankgate.crypto.sm` loads tongsuopy, `bankgate.crypto.token`
loads python-pkcs11); this package re-exports only the test PKI, as before.
"""

from bankgate.crypto.pki import TestPki, client_ssl_context, issue_test_pki, server_ssl_context

__all__ = ["TestPki", "client_ssl_context", "issue_test_pki", "server_ssl_context"]
