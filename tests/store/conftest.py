"""Fixtures of the store tests: a private PostgreSQL server a test may restart."""

from tests.store.pg_private import private_pg

__all__ = ["private_pg"]
