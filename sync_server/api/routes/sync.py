"""Sync endpoints for enrolled desks (device token): push and pull (DESIGN §3).

The protocol, its semantics and examples are in :mod:`sync_server.services.sync`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from scheduling import limits
from scheduling.sync_protocol import (
    DEFAULT_PULL_LIMIT,
    MAX_PULL_LIMIT,
    MAX_PUSH_MUTATIONS,
    MUTATION_GAP,
    Mutation,
    PushRequest,
)
from sync_server.api.deps import (
    ContextDep,
    CurrentDevice,
    NowDep,
    SessionDep,
    sqlite_write_turn,
)
from sync_server.api.errors import ErrorOut, error_response
from sync_server.api.fields import text_check
from sync_server.services import sync

router = APIRouter(prefix="/sync", tags=["sync"], dependencies=[Depends(sqlite_write_turn)])


class MutationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[StrictInt, Field(ge=1)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=limits.INTENT_NAME),
                    AfterValidator(text_check(limits.INTENT_NAME))]
    args: dict[str, Any]
    client_time: Annotated[StrictStr, Field(max_length=64),
                           AfterValidator(text_check(64))] | None = Field(
        None, description="When the desk queued it; informational, never used for ordering")
    user_id: Annotated[StrictStr, Field(min_length=1, max_length=limits.ID),
                       AfterValidator(text_check(limits.ID))] | None = Field(
        None, description="The user signed in on the desk who made the change: it is "
                          "judged with that user's permissions and audited in their name")


class PushBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: Annotated[StrictStr, Field(min_length=1, max_length=limits.ID),
                         AfterValidator(text_check(limits.ID))]
    mutations: Annotated[list[MutationBody], Field(max_length=MAX_PUSH_MUTATIONS)]


class MutationResultOut(BaseModel):
    id: int
    status: str = Field(description="applied | refused | invalid | skipped")
    code: str | None = None


class PushOut(BaseModel):
    last_mutation_id: int
    results: list[MutationResultOut]


class PullOut(BaseModel):
    cursor: int
    changes: list[dict[str, Any]]
    tombstones: list[dict[str, Any]]
    last_mutation_id: int
    conflicts: list[dict[str, Any]]
    has_more: bool


GAP: dict[int | str, dict[str, Any]] = {
    409: {"description": "The mutation ids skip a number (mutation_gap)"},
    500: {"model": ErrorOut,
          "description": "Nothing of the push was applied (internal_error); "
                         "last_mutation_id says where the desk stands"},
}


@router.post("/push", response_model=PushOut, responses=GAP)
def push(body: PushBody, device: CurrentDevice, session: SessionDep, now: NowDep,
         context: ContextDep) -> PushOut | JSONResponse:
    """Apply the desk's outbox in order; each mutation is processed exactly once. The
    answer may cover only the first mutations (a push answers within a few seconds):
    the desk sends the rest from ``last_mutation_id + 1``."""
    request = PushRequest(body.client_id, tuple(
        Mutation(m.id, m.name, m.args, m.client_time, m.user_id) for m in body.mutations))
    started = time.perf_counter()
    try:
        result = sync.push(session, device, request, now)
    except sync.MutationGap as gap:
        return error_response(409, MUTATION_GAP, gap.message,
                              last_mutation_id=gap.last_mutation_id)
    except sync.PushFailed as failed:
        headers = {"Retry-After": "5"} if failed.status == 503 else None
        return error_response(failed.status, failed.code, failed.message, headers,
                              last_mutation_id=failed.last_mutation_id)
    metrics = context.metrics
    metrics.push_seconds.observe(time.perf_counter() - started)
    metrics.push_mutations.observe(len(result.results))
    for outcome in result.results:
        metrics.mutations.labels(outcome.status).inc()
    return PushOut.model_validate(result.to_json())


@router.get("/pull", response_model=PullOut)
def pull(
    device: CurrentDevice,
    session: SessionDep,
    cursor: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PULL_LIMIT)] = DEFAULT_PULL_LIMIT,
) -> PullOut:
    """Changes after ``cursor`` (0 = everything), a page at a time; ask again while
    ``has_more``."""
    return PullOut.model_validate(sync.pull(session, device, cursor, limit).to_json())
