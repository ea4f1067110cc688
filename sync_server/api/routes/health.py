from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from scheduling.sync_protocol import MIN_PROTOCOL_VERSION, PROTOCOL_VERSION
from sync_server.api.deps import ContextDep
from sync_server.api.errors import DATABASE_UNAVAILABLE

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["reachable", "unreachable"]
    protocol: int = PROTOCOL_VERSION
    min_protocol: int = MIN_PROTOCOL_VERSION
    message: str = ""


@router.get("", response_model=Health, responses={503: {"model": Health}})
def health(context: ContextDep) -> Health | JSONResponse:
    """Whether the server runs and reaches its database (503 when it does not)."""
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (DBAPIError, PoolTimeoutError):
        body = Health(status="degraded", database="unreachable", message=DATABASE_UNAVAILABLE)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
    return Health(status="ok", database="reachable")
