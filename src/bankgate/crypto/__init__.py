"""Cryptography: the test PKI (CA, server and client certificates) and TLS contexts."""

from bankgate.crypto.pki import TestPki, client_ssl_context, issue_test_pki, server_ssl_context

__all__ = ["TestPki", "client_ssl_context", "issue_test_pki", "server_ssl_context"]
