"""A real sync server for the race test: ``python -m tests.sync_server.race_server FD N``.

Serves on the already listening socket ``FD`` inherited from the test, so the test
never waits for a port to open (connections queue in the backlog until uvicorn
accepts them), with ``N`` worker processes. Settings come from ``CLINICDESK_*``
variables.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from sync_server.app import create_app
from sync_server.core.config import Settings


def app() -> FastAPI:
    return create_app(Settings())


def main() -> None:
    uvicorn.run("tests.sync_server.race_server:app", factory=True, fd=int(sys.argv[1]),
                workers=int(sys.argv[2]), log_level="warning", log_config=None,
                timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
