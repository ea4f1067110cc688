"""Alembic environment for the desk store.

The desk never builds a URL (the key would have to be in it): the caller opens
the encrypted engine and passes a live connection in
``config.attributes["connection"]`` (see :func:`desktop.store.migrate.upgrade`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from desktop.store.models import Base


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "desk migrations need an open connection in config.attributes['connection']"
        )
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("desk migrations run online only, on the opened encrypted store")
run_migrations_online()
