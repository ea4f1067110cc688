"""Every error leaves the server as ``{"error": {"code": ..., "message": ...}}``.

Messages are written for the front desk and never echo submitted values
(they could be patient data).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync_server.services.errors import ServiceError

log = logging.getLogger("sync_server.errors")

DATABASE_UNAVAILABLE = (
    "The scheduling database cannot be reached right now. Your work is kept; "
    "try again in a moment, and tell your administrator if this persists."
)

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    426: "update_required",
    429: "too_many_requests",
    503: "service_unavailable",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # params, alternatives, details, …
    code: str
    message: str


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


#: Answers any operation may give, documented on every one (the OpenAPI schema lists
#: every status code the server can return).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("A malformed header (protocol version, Content-Length) or body"),
    401: _documented("Not signed in, or the sign-in or device token is not valid"),
    403: _documented("The caller's role does not allow this"),
    404: _documented("No such record in the caller's organization"),
    408: _documented("The request body arrived too slowly"),
    413: _documented("The request body is larger than the server accepts"),
    422: _documented("The request is not valid (the message names the fields)"),
    426: _documented("The desk's protocol version is too old: update required"),
    503: _documented("The database cannot be reached right now (see Retry-After)"),
}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return {"field": location or "body", "problem": str(error.get("msg", "invalid value"))}


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(dict(e)) for e in exc.errors()][:20]
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        message = "The request body is not valid JSON."
    else:
        message = "The request is not valid: " + "; ".join(
            f"{p['field']}: {p['problem']}" for p in problems[:5]
        )
    return error_response(422, "invalid_request", message, details=problems)


def expected_failure_answer(exc: Exception) -> JSONResponse | None:
    """The handlers' answer to a refusal or a database outage (None for anything else),
    for an endpoint served outside the app's exception handling (the event stream)."""
    if isinstance(exc, ServiceError):
        return _service_answer(exc)
    if isinstance(exc, OperationalError | PoolTimeoutError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return _database_answer(exc)
    return None


def _service_answer(exc: ServiceError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, headers)


def _database_answer(exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return error_response(503, "database_unavailable", DATABASE_UNAVAILABLE, {"Retry-After": "5"})


async def _service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return _service_answer(exc)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "The request failed."
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    return _database_answer(exc)


async def _dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        return await _database_error(request, exc)
    return await _unexpected_error(request, exc)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return error_response(
        500, "internal_error", "Something went wrong on the server; the request was not applied."
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(DBAPIError, _dbapi_error)
    app.add_exception_handler(Exception, _unexpected_error)
