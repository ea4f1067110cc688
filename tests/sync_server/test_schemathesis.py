"""Property-based API check (schemathesis 4) against the server's own OpenAPI schema.

Every operation gets a bounded number of generated requests, valid and invalid
ones (fixed seed, SQLite, signed in as an administrator); none may answer 5xx,
and every answer must match the schema it documents. The event stream is left
out: it never ends by design (tests/sync_server/test_events.py covers it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from sync_server.app import create_app
from sync_server.core.config import Settings
from sync_server.db.session import make_engine, make_session_factory
from tests.sync_server.conftest import Clock, Tenants, make_settings, sign_in

#: Requests drawn per operation: valid ones, and invalid ones (wrong types, missing fields…).
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}


@pytest.fixture(scope="module")
def api_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    settings = make_settings(database_url, Path(tmp_path_factory.mktemp("schemathesis")))
    return create_app(settings)


@pytest.fixture(scope="module")
def admin_headers(api_app: FastAPI, database_url: str) -> Iterator[dict[str, str]]:
    engine = make_engine(database_url)
    session: Session
    with make_session_factory(engine)() as session:
        tenants = Tenants(session, api_app.state.context.settings, Clock())
        admin = tenants.organization("administrator")
    engine.dispose()
    with TestClient(api_app) as client:
        yield sign_in(client, admin)


@pytest.fixture(scope="module")
def api_schema(api_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app)


def _operations() -> list[Any]:
    """(method, path, mode) for every documented operation but the endless event stream;
    invalid requests only where there is something to get wrong (parameters, a body)."""
    probe = create_app(Settings(database_url="sqlite://", secret_key="probe-only-not-a-secret"))
    found = []
    for path, item in probe.openapi()["paths"].items():
        if path.endswith("/sync/events"):
            continue
        for method, operation in item.items():
            found.append(pytest.param(method.upper(), path, GenerationMode.POSITIVE,
                                      id=f"{method.upper()} {path} valid"))
            if operation.get("parameters") or operation.get("requestBody"):
                found.append(pytest.param(method.upper(), path, GenerationMode.NEGATIVE,
                                          id=f"{method.upper()} {path} invalid"))
    return found


# Parametrized by hand (schemathesis' pytest loader does not run on pytest 9): one test
# per operation, each drawing a bounded number of requests from the operation's schema.
@pytest.mark.parametrize(("method", "path", "mode"), _operations())
def test_no_operation_answers_5xx_or_breaks_its_schema(
    api_schema: schemathesis.BaseSchema, admin_headers: dict[str, str], method: str, path: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,  # a fixed seed: the same requests on every run
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers=admin_headers)
        case.validate_response(
            response,
            checks=[not_a_server_error, response_schema_conformance, content_type_conformance,
                    status_code_conformance],
        )

    check()
