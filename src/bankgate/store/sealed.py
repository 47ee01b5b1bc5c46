"""Full account numbers at rest: sealed columns and keyed blind indexes (issue 5, INV-7).

`Sealed("table.column")` seals a value on the way in and opens it on the way out (an AES-256-GCM
envelope of `crypto/sealed.SecretBox`, bound to the context "table.column": an envelope copied
into another column does not open). `BlindIndexed()` is the column beside it that lookups and
unique constraints use: a bound value is turned into its HMAC tag, so
`where(accounts.c.number_bidx == "6222…")` compares tags, and nothing ever compares ciphertexts
(they are randomised: equal numbers give different envelopes).

The cipher travels with the engine, not in a global: `attach_cipher(engine, resolve)` puts a
`StoreCipher` on the engine's dialect, which every bind and result processor is handed; two
stores open in one process (tests) use two keys without leaking into each other. The key is
resolved on first use (`crypto/master_key.py`), so tools that never touch a sealed column need
no key, and `bootstrap.build_app` asks for it at start so a missing key fails at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import Connection, Engine, LargeBinary, String, TypeDecorator
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DontWrapMixin

from bankgate.crypto.master_key import MasterKey
from bankgate.crypto.sealed import BlindIndex, SecretBox
from bankgate.errors import ConfigError, SecurityError

__all__ = ["ACCOUNT_NUMBER", "VERIFICATION", "BlindIndexed", "KeyUnavailable", "Sealed",
           "SealedBytes", "StoreCipher", "attach_cipher", "cipher_of"]

#: The blind-index label of account numbers (every column of them shares it, so an employee's
#: account can be found among payees).
ACCOUNT_NUMBER: Final = "account-number"
#: The blind-index label of payee verification fingerprints (a hash over the account number).
VERIFICATION: Final = "payee-verification"
_ATTR: Final = "bankgate_cipher"
#: An envelope of a 34-character account number is 105 characters.
SEALED_LENGTH: Final = 160


class KeyUnavailable(ConfigError, DontWrapMixin):
    """The store's master key is missing or unusable (a ConfigError SQLAlchemy passes through
    unwrapped when it surfaces while binding a sealed value)."""


class StoreCipher:
    """The sealing box and blind indexes of one store, over its master key."""

    def __init__(self, resolve: Callable[[], MasterKey]) -> None:
        self._resolve = resolve
        self._lock = threading.Lock()
        self._box: SecretBox | None = None
        self._indexes: dict[str, BlindIndex] = {}
        self._key: MasterKey | None = None

    def _master(self) -> MasterKey:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    try:
                        self._key = self._resolve()
                    except ConfigError as exc:
                        raise KeyUnavailable(str(exc)) from exc
        return self._key

    def require(self) -> None:
        """Resolve the key now (KeyUnavailable if there is none), before any work starts."""
        self._master()

    @property
    def box(self) -> SecretBox:
        """The store's `SecretBox` (also what seals TOTP secrets)."""
        if self._box is None:
            self._box = SecretBox(self._master().key)
        return self._box

    @property
    def source(self) -> str:
        """Where the key came from ("BANKGATE_SECRET_KEY", "key file …", …)."""
        return self._master().source

    def seal(self, value: str, context: str) -> str:
        """The envelope of `value` for the column `context`."""
        return self.box.seal(value.encode("utf-8"), context)

    def open(self, envelope: str, context: str) -> str:
        """The value sealed in `envelope`; SecurityError if it is not one of ours for `context`."""
        try:
            return self.box.open(envelope, context).decode("utf-8")
        except SecurityError as exc:
            raise SecurityError(f"{context}: {exc}") from exc

    def tag(self, value: str, label: str = ACCOUNT_NUMBER) -> str:
        """The blind index of `value`."""
        index = self._indexes.get(label)
        if index is None:
            index = self._indexes.setdefault(label, BlindIndex(self._master().key, label))
        return index.tag(value)

    def __repr__(self) -> str:
        return "StoreCipher(<key hidden>)"


def attach_cipher(engine: Engine, resolve: Callable[[], MasterKey]) -> StoreCipher:
    """Give `engine` (its dialect) the cipher its sealed columns use; returns it."""
    cipher = StoreCipher(resolve)
    setattr(engine.dialect, _ATTR, cipher)
    return cipher


def cipher_of(where: Engine | Connection | Dialect) -> StoreCipher:
    """The cipher of the store `where` belongs to.

    Raises:
        ConfigError: the engine was not made by `store.make_engine` (no cipher attached).
    """
    dialect = where if isinstance(where, Dialect) else where.dialect
    cipher = getattr(dialect, _ATTR, None)
    if cipher is None:
        raise ConfigError("this engine has no cipher for sealed columns; build it with "
                          "bankgate.store.make_engine")
    assert isinstance(cipher, StoreCipher)
    return cipher


class Sealed(TypeDecorator[str]):
    """A text column sealed at rest, bound to its `context` ("table.column")."""

    impl = String(SEALED_LENGTH)
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).seal(value, self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).open(value, self.context)


class SealedBytes(TypeDecorator[bytes]):
    """A binary column sealed at rest (raw-bytes envelope, 41 bytes more than the value)."""

    impl = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else cipher_of(dialect).box.seal_bytes(value, self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        try:
            return cipher_of(dialect).box.open_bytes(bytes(value), self.context)
        except SecurityError as exc:
            raise SecurityError(f"{self.context}: {exc}") from exc


class BlindIndexed(TypeDecorator[str]):
    """The keyed blind index of a sealed column: bind the *plain* value, it stores the tag.

    Reading gives the tag back (it cannot be reversed). Comparisons and IN lists bind through
    the type, so they compare tags.
    """

    impl = String(32)
    cache_ok = True

    def __init__(self, label: str = ACCOUNT_NUMBER) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).tag(value, self.label)
