"""The store: the only code that knows SQL (SQLite, PostgreSQL, MySQL/MariaDB).

`make_engine(url)` builds an engine, `UnitOfWork(engine)` is one transaction with the
repositories, `migrate(url)` brings a database to the newest schema (Alembic).
"""

from bankgate.store.db import dialect_of, make_engine
from bankgate.store.migrate import current_revision, migrate
from bankgate.store.queue import ClaimedJob, NewJob
from bankgate.store.uow import UnitOfWork

__all__ = ["ClaimedJob", "NewJob", "UnitOfWork", "current_revision", "dialect_of", "make_engine",
           "migrate"]
