"""Alembic migrations of the desk store (run by :mod:`desktop.store.migrate`)."""
