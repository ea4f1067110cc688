"""``CLINICDESK_REQUEST_THREADS`` sizes the pool of threads that run requests' blocking
part, per instance (docs/admin.md); unset, anyio's default stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from anyio import to_thread
from fastapi.testclient import TestClient
from pydantic import ValidationError

from sync_server.app import create_app
from tests.sync_server.conftest import make_settings


def _threads(client: TestClient) -> float:
    portal = client.portal
    assert portal is not None
    return portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens)


@pytest.mark.parametrize("threads", [3, None])
def test_the_request_threads_are_those_configured(
    sqlite_database_url: str, tmp_path: Path, threads: int | None
) -> None:
    settings = make_settings(sqlite_database_url, tmp_path, request_threads=threads)
    with TestClient(create_app(settings)) as client:
        assert _threads(client) == (threads or 40)
        # requests still run: the health check goes through the same pool
        assert client.get("/api/v1/health").status_code == 200


def test_no_requests_at_all_is_refused(sqlite_database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        make_settings(sqlite_database_url, tmp_path, request_threads=0)
