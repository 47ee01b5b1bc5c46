"""Alembic environment: runs online against the engine `bankgate.store.migrate` hands over."""

from __future__ import annotations

from alembic import context

from bankgate.store.tables import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
