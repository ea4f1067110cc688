"""Admin API of hand-off / FHIR clients (``/api/v1/fhir-clients``, ``admin:config``), in
the shape of the other admin records (a list; ``PATCH`` to change): register (the
``client_secret`` is in that one answer), list, change name, allowed return URLs and
scopes, deactivate (``active: false``; its tokens stop working at once). Every change
is in the audit log (ids only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from sync_server.api.deps import NowDep, SessionDep, require, sqlite_write_turn
from sync_server.api.fields import IdPath
from sync_server.fhir import clients
from sync_server.services import accounts, audit
from sync_server.services.errors import InvalidInput, NotFound

router = APIRouter(prefix="/fhir-clients", tags=["fhir"],
                   dependencies=[Depends(sqlite_write_turn)])
Admin = Annotated[accounts.Principal, Depends(require("admin:config"))]

Url = Annotated[str, Field(min_length=1, max_length=2000)]
Scope = Annotated[str, Field(min_length=1, max_length=64)]


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    return_urls: Annotated[list[Url], Field(max_length=clients.MAX_RETURN_URLS)]
    scopes: Annotated[list[Scope], Field(max_length=20)] | None = None


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    return_urls: Annotated[list[Url], Field(max_length=clients.MAX_RETURN_URLS)] | None = None
    scopes: Annotated[list[Scope], Field(max_length=20)] | None = None
    active: bool | None = None


def _failed(error: clients.ClientError) -> Exception:
    if error.code == "unknown-client":
        return NotFound(error.message, code="not_found")
    return InvalidInput(error.message, code=error.code.replace("-", "_"))


def _audit(session: SessionDep, user: accounts.Principal, intent: str, client_id: str,
           now: NowDep) -> None:
    audit.append(session, user.organization_id, at=now, actor=user.actor, intent=intent,
                 outcome="done", target_type="fhir_client", target_id=client_id)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_client(body: CreateBody, user: Admin, session: SessionDep,
                  now: NowDep) -> dict[str, Any]:
    """Register a client; ``client_secret`` is in this answer only."""
    try:
        new = clients.register(session, user.organization_id, name=body.name,
                               return_urls=body.return_urls, scopes=body.scopes, now=now,
                               created_by_user_id=user.user_id)
    except clients.ClientError as error:
        raise _failed(error) from None
    _audit(session, user, "fhir_client.create", new.client.id, now)
    answer = {**clients.to_json(new.client), "client_secret": new.secret}
    session.commit()
    return answer


@router.get("")
def list_clients(user: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return [clients.to_json(c) for c in clients.list_clients(session, user.organization_id)]


@router.patch("/{client_row_id}")
def update_client(client_row_id: IdPath, body: UpdateBody,
                  user: Admin, session: SessionDep, now: NowDep) -> dict[str, Any]:
    try:
        client = clients.update(session, user.organization_id, client_row_id, now=now,
                                name=body.name, return_urls=body.return_urls,
                                scopes=body.scopes, active=body.active)
    except clients.ClientError as error:
        raise _failed(error) from None
    intent = "fhir_client.deactivate" if body.active is False else "fhir_client.update"
    _audit(session, user, intent, client.id, now)
    answer = clients.to_json(client)
    session.commit()
    return answer
