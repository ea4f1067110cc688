"""Chaos run fixtures: a fresh PostgreSQL database from the server suite's fixture."""

from tests.sync_server.conftest import pg_database_url  # noqa: F401 - shared fixture
