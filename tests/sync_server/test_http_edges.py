"""Bad input and protocol edges answer clear 4xx JSON errors, never 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from scheduling.sync_protocol import MIN_PROTOCOL_VERSION, PROTOCOL_HEADER, PROTOCOL_VERSION
from sync_server.app import create_app
from sync_server.core.config import Settings
from tests.sync_server.conftest import Clock, make_settings

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def small_client(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"max_body_bytes": 2048})
    with TestClient(create_app(limited, clock=clock)) as client:
        yield client


def test_a_body_over_the_limit_is_refused_with_413(small_client: TestClient) -> None:
    response = small_client.post(
        LOGIN, content=b"{" + b" " * 4096 + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_streamed_body_over_the_limit_is_refused_with_413(small_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1024

    response = small_client.post(
        LOGIN, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_malformed_json_is_a_422_with_the_error_shape(client: TestClient) -> None:
    response = client.post(
        LOGIN, content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert "JSON" in response.json()["error"]["message"]


def test_unknown_fields_are_a_422_naming_the_field(client: TestClient) -> None:
    body = {"organization": "o", "email": "a@b.c", "password": "p", "role": "admin"}
    response = client.post(LOGIN, json=body)
    assert response.status_code == 422
    assert "role" in response.json()["error"]["message"]


def test_validation_errors_do_not_echo_the_submitted_values(client: TestClient) -> None:
    response = client.post(LOGIN, json={"organization": "o", "email": 12345678, "password": []})
    assert response.status_code == 422
    assert "12345678" not in response.text


def test_an_old_desk_protocol_gets_426_update_required(client: TestClient) -> None:
    response = client.get(
        "/api/v1/health", headers={PROTOCOL_HEADER: str(MIN_PROTOCOL_VERSION - 1)}
    )
    assert response.status_code == 426
    assert response.json()["error"]["code"] == "update_required"


def test_the_current_protocol_is_accepted(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION)})
    assert response.status_code == 200


def test_a_non_numeric_protocol_header_is_a_400(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers={PROTOCOL_HEADER: "one"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_protocol_header"


def test_an_unknown_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(client: TestClient) -> None:
    assert client.delete(LOGIN).json()["error"]["code"] == "method_not_allowed"


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


def test_health_reports_a_reachable_database(client: TestClient) -> None:
    assert client.get("/api/v1/health").json()["database"] == "reachable"


def test_the_openapi_documentation_is_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/api/v1/auth/login" in client.get("/api/v1/openapi.json").json()["paths"]


def test_cors_is_off_unless_origins_are_configured(client: TestClient) -> None:
    preflight = client.options(
        LOGIN, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_configured_cors_origins_are_allowed(
    database_url: str, tmp_path: object, clock: Clock
) -> None:
    from pathlib import Path

    settings = make_settings(
        database_url, Path(str(tmp_path)), cors_origins=["https://desk.example"]
    )
    with TestClient(create_app(settings, clock=clock)) as client:
        preflight = client.options(
            LOGIN,
            headers={"Origin": "https://desk.example", "Access-Control-Request-Method": "POST"},
        )
    assert preflight.headers["access-control-allow-origin"] == "https://desk.example"
