"""HTTP routes under ``/fhir/{org}`` (``org`` = the organization's slug).

* SMART Scheduling Links, public: ``GET $bulk-publish`` (the manifest) and
  ``GET $bulk-publish/{Location,Schedule,Slot}.ndjson`` (``_since`` on both), with
  ``ETag`` / ``If-None-Match`` → 304 and ``Cache-Control``.
* ``POST auth/token``: OAuth 2 client credentials (``client_id``/``client_secret`` in
  the form or HTTP Basic) → a bearer token for this organization, valid
  ``access_token_minutes``, with the client's scopes (or the asked subset).
* The read API (bearer token, scope ``system/<Type>.read``): ``Appointment/{id}``,
  ``Appointment?date=ge…&date=lt…&_handoff=mine``, ``Slot``, ``Schedule``,
  ``Location``, ``Practitioner`` reads and searches. Another organization's id is 404.
* ``POST handoff/result`` (scope ``handoff``): a seed-004 ``resultToken`` → the FHIR
  Appointment (single use, 5 minutes, this client's only).

Errors are OperationOutcome resources; every refusal of a client is audited (ids and
codes only).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.api.deps import ContextDep, NowDep, SessionDep, sqlite_write_turn
from sync_server.core.security import InvalidTokenError, issue_access_token, read_access_token
from sync_server.db import models as db
from sync_server.fhir import admin, clients, handoff, publish
from sync_server.fhir.models import FhirClient, Handoff
from sync_server.fhir.resources import (
    FHIR_JSON,
    appointment_resource,
    bundle,
    operation_outcome,
    practitioner_resource,
)
from sync_server.fhir.resources import record_id as record_id_of
from sync_server.notifications.policy import policy_of
from sync_server.services import access, audit

FHIR_AUDIENCE = "clinicdesk-fhir"
CACHE_CONTROL = "public, max-age=60"
MAX_RESULTS = 1000
NDJSON_TYPES = ("Location", "Schedule", "Slot")

_OBJECT: dict[str, Any] = {"schema": {"type": "object"}}


def _documented(description: str, media_type: str = FHIR_JSON) -> dict[str, Any]:
    return {"description": description, "content": {media_type: _OBJECT}}


Documented = dict[int | str, dict[str, Any]]
#: What every FHIR route may answer (OperationOutcome errors, not the API's ErrorOut).
OUTCOMES: Documented = {
    400: _documented("A bad input value (OperationOutcome)"),
    401: _documented("No valid bearer token of this organization (OperationOutcome)"),
    403: _documented("The token lacks the scope (OperationOutcome)"),
    404: _documented("No such organization or resource (OperationOutcome)"),
}
READ: Documented = {200: _documented("The resource, or a searchset Bundle"), **OUTCOMES}
PUBLISHED: Documented = {304: {"description": "Not modified (If-None-Match matched the ETag)"},
             400: OUTCOMES[400], 404: OUTCOMES[404]}
TOKEN: Documented = {200: _documented("The bearer token", "application/json"),
         400: _documented("OAuth 2 error (unsupported_grant_type, invalid_scope)",
                          "application/json"),
         401: _documented("OAuth 2 error invalid_client", "application/json"),
         404: OUTCOMES[404]}

router = APIRouter(prefix="/fhir/{org}", tags=["fhir"], default_response_class=Response,
                   responses=READ, dependencies=[Depends(sqlite_write_turn)])


class FhirProblem(Exception):
    """An error answered as an OperationOutcome."""

    def __init__(self, status: int, code: str, diagnostics: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(diagnostics)
        self.status, self.code, self.diagnostics = status, code, diagnostics
        self.headers = headers


async def _problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FhirProblem)
    return JSONResponse(operation_outcome(exc.code, exc.diagnostics), status_code=exc.status,
                        media_type=FHIR_JSON, headers=exc.headers)


def install(app: FastAPI, api_prefix: str) -> None:
    """The FHIR routes, the admin API of clients (under ``api_prefix``) and the
    OperationOutcome error answers."""
    app.include_router(router)
    app.include_router(admin.router, prefix=api_prefix)
    app.add_exception_handler(FhirProblem, _problem)


NOT_FOUND = FhirProblem(404, "not-found", "No such resource.")


def _searchset(request: Request, org: db.Organization, base: str,
               found: list[dict[str, Any]]) -> Response:
    return fhir_json(bundle(f"{base}/fhir/{org.slug}", str(request.url), found))


def fhir_json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
                    status_code=status, media_type=FHIR_JSON)


# --------------------------------------------------------------------------- dependencies


def organization(org: str, session: SessionDep) -> db.Organization:
    found = publish.organization_by_ref(session, org)
    if found is None:
        raise FhirProblem(404, "not-found", "No such organization.")
    return found


Org = Annotated[db.Organization, Depends(organization)]


def base_url(request: Request, context: ContextDep) -> str:
    """The server's public address (``public_url``, else the request's own)."""
    return (context.settings.public_url or str(request.base_url)).rstrip("/")


Base = Annotated[str, Depends(base_url)]


def _refused(session: Session, org_id: str, intent: str, reason: str,
             target_id: str | None, now: datetime) -> None:
    session.rollback()
    audit.append(session, org_id, at=now, actor=audit.Actor(), intent=intent,
                 outcome="refused", target_type="fhir_client", target_id=target_id,
                 reason=reason)
    session.commit()


class Caller:
    def __init__(self, client: FhirClient, scopes: frozenset[str]) -> None:
        self.client, self.scopes = client, scopes

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(user_id=self.client.id)


_bearer = HTTPBearer(auto_error=False, description="Access token from POST auth/token")


def caller(org: Org, session: SessionDep, context: ContextDep, now: NowDep,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
           ) -> Caller:
    """The registered client calling with its bearer token, or an audited 401."""
    unauthorized = FhirProblem(401, "login", "A valid bearer token of this organization is "
                               "needed (POST auth/token).", {"WWW-Authenticate": "Bearer"})
    if credentials is None or not credentials.credentials.strip():
        _refused(session, org.id, "fhir.read", "no_token", None, now)
        raise unauthorized
    try:
        claims = read_access_token(context.token_keys, credentials.credentials.strip(), now,
                                   audience=FHIR_AUDIENCE)
    except InvalidTokenError:
        _refused(session, org.id, "fhir.read", "invalid_token", None, now)
        raise unauthorized from None
    client = session.get(FhirClient, claims.user_id)
    if client is None or not client.active or claims.organization_id != org.id \
            or client.organization_id != org.id:
        _refused(session, org.id, "fhir.read", "invalid_token", None, now)
        raise unauthorized
    return Caller(client, frozenset(claims.scope.split()) & frozenset(client.scopes))


Client = Annotated[Caller, Depends(caller)]


def require_scope(who: Caller, scope: str, session: Session, now: datetime) -> None:
    if scope not in who.scopes:
        _refused(session, who.client.organization_id, "fhir.read", "missing_scope:" + scope,
                 who.client.id, now)
        raise FhirProblem(403, "forbidden", f"This token lacks the scope '{scope}'.")


# --------------------------------------------------------------------------- publishing


def _since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise FhirProblem(400, "invalid", "_since must be an ISO 8601 instant with its offset.")
    return value.astimezone(UTC)


Since = Annotated[str | None, Query(alias="_since", max_length=64,
                                    description="Only what changed after this instant")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", max_length=1024)]


def _cached(request: Request, body: bytes, media_type: str) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    asked = request.headers.get("if-none-match", "")
    if etag in [tag.strip() for tag in asked.split(",")] or asked.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _published(session: Session, org: db.Organization, now: datetime, *,
               with_slots: bool = True) -> publish.Published:
    published = publish.refresh(session, org, now, with_slots=with_slots)
    session.commit()
    return published


@router.get("/$bulk-publish", summary="SMART Scheduling Links manifest",
            responses={200: _documented("The manifest", "application/json"), **PUBLISHED})
def manifest(org: Org, request: Request, session: SessionDep, now: NowDep, base: Base,
             since_text: Since = None, _etag: IfNoneMatch = None) -> Response:
    since = _since(since_text)
    published = _published(session, org, now)
    files = f"{base}/fhir/{org.slug}/$bulk-publish"
    suffix = f"?{urlencode({'_since': publish.instant(since)})}" if since else ""
    body = {
        "transactionTime": publish.instant(published.transaction_time),
        "request": f"{files}{suffix}",
        "output": [{"type": kind, "url": f"{files}/{kind}.ndjson{suffix}"}
                   for kind in NDJSON_TYPES],
        "error": [],
    }
    return _cached(request, json.dumps(body, separators=(",", ":")).encode(),
                   "application/json")


@router.get("/$bulk-publish/{kind}.ndjson", summary="Published Location/Schedule/Slot file",
            responses={200: _documented("One resource per line", publish.NDJSON), **PUBLISHED})
def ndjson_file(org: Org, kind: str, request: Request, session: SessionDep, now: NowDep,
                base: Base, since_text: Since = None, _etag: IfNoneMatch = None) -> Response:
    if kind not in NDJSON_TYPES:
        raise NOT_FOUND
    since = _since(since_text)
    published = _published(session, org, now, with_slots=kind == "Slot")
    if kind == "Location":
        resources = published.locations
    elif kind == "Schedule":
        resources = published.schedules
    else:
        resources = publish.slot_resources(session, published, base, since)
    session.rollback()
    return _cached(request, publish.ndjson(resources), publish.NDJSON)


# --------------------------------------------------------------------------- auth


async def form_body(request: Request) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body (at most 4 KiB read)."""
    raw = (await request.body())[:4096]
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


Form = Annotated[dict[str, str], Depends(form_body)]


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


@router.post("/auth/token", summary="OAuth 2 client credentials → bearer token",
             response_class=JSONResponse, responses=TOKEN)
def token(org: Org, request: Request, form: Form, session: SessionDep, context: ContextDep,
          now: NowDep, _authorization: Annotated[str | None, Header(
              alias="Authorization", max_length=2048,
              description="HTTP Basic client_id:client_secret (or send them in the form)")]
          = None) -> JSONResponse:
    def refuse(error: str, reason: str, target: str | None = None) -> JSONResponse:
        _refused(session, org.id, "fhir.token", reason, target, now)
        return JSONResponse({"error": error}, status_code=400 if error != "invalid_client"
                            else 401, headers={"Cache-Control": "no-store"})

    if form.get("grant_type") != "client_credentials":
        return refuse("unsupported_grant_type", "unsupported_grant_type")
    client_id, secret = _basic(request) or (form.get("client_id", ""),
                                            form.get("client_secret", ""))
    client = clients.authenticate(session, client_id[:64], secret[:200])
    if client is None or client.organization_id != org.id:
        return refuse("invalid_client", "invalid_client")
    asked = form.get("scope", "").split()
    scopes = [s for s in client.scopes if not asked or s in asked]
    if asked and set(asked) - set(client.scopes):
        return refuse("invalid_scope", "invalid_scope", client.id)
    lifetime = timedelta(minutes=context.settings.access_token_minutes)
    issued, _expires = issue_access_token(context.token_keys, client.id, org.id, now, lifetime,
                                         audience=FHIR_AUDIENCE, scope=" ".join(scopes))
    session.rollback()
    return JSONResponse({"access_token": issued, "token_type": "bearer",
                         "expires_in": int(lifetime.total_seconds()), "scope": " ".join(scopes)},
                        headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- reads


def _in_org(session: Session, who: Caller, model: type[Any], record_id: str,
            now: datetime, target_type: str) -> Any:
    """The record of the caller's organization; another organization's id is an audited 404."""
    org_id = who.client.organization_id
    wanted = record_id_of(record_id)
    if wanted is None:
        raise NOT_FOUND
    record = db.get_in_org(session, model, org_id, wanted)
    if record is not None:
        return record
    if access.elsewhere(session, model, wanted):
        session.rollback()
        audit.append(session, org_id, at=now, actor=who.actor, intent="access_denied",
                     outcome="refused", target_type=target_type, target_id=wanted,
                     reason="other_organization")
        session.commit()
    raise NOT_FOUND


def _type_names(session: Session, org_id: str) -> dict[str, str]:
    rows = session.execute(select(db.AppointmentType.id, db.AppointmentType.name).where(
        db.AppointmentType.organization_id == org_id))
    return {type_id: name for type_id, name in rows}


def _own_handoff_ids(session: Session, who: Caller) -> set[str]:
    return set(session.scalars(select(Handoff.appointment_id).where(
        Handoff.client_id == who.client.id, Handoff.appointment_id.is_not(None))))


@router.get("/Appointment/{appointment_id}", summary="Read an Appointment")
def read_appointment(org: Org, appointment_id: str, who: Client, session: SessionDep,
                     now: NowDep) -> Response:
    require_scope(who, "system/Appointment.read", session, now)
    row = _in_org(session, who, db.Appointment, appointment_id, now, "appointment")
    if row.deleted and row.id not in _own_handoff_ids(session, who):
        raise NOT_FOUND
    resource = appointment_resource(row, _type_names(session, org.id).get(
        row.appointment_type_id, ""))
    session.rollback()
    return fhir_json(resource)


_DATE_PREFIXES = ("ge", "gt", "le", "lt", "eq")


def _date_bounds(values: list[str]) -> list[Any]:
    """SQL conditions of ``date=<prefix><instant or day>`` search parameters."""
    column = db.Appointment.start_at
    conditions: list[Any] = []
    for value in values[:4]:
        prefix, text = (value[:2], value[2:]) if value[:2] in _DATE_PREFIXES else ("eq", value)
        try:
            if len(text) == 10:
                moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise FhirProblem(400, "invalid", "date must be ge/gt/le/lt/eq followed by a day "
                              "(YYYY-MM-DD) or an instant with its offset.")
        if prefix == "eq" and len(text) == 10:
            conditions += [column >= moment, column < moment + timedelta(days=1)]
        else:
            conditions.append({"ge": column >= moment, "gt": column > moment,
                               "le": column <= moment, "lt": column < moment,
                               "eq": column == moment}[prefix])
    return conditions


@router.get("/Appointment", summary="Search Appointments (date, _handoff=mine)")
def search_appointments(org: Org, request: Request, who: Client, session: SessionDep,
                        now: NowDep, base: Base) -> Response:
    require_scope(who, "system/Appointment.read", session, now)
    params = request.query_params
    conditions = [db.Appointment.organization_id == org.id,
                  *_date_bounds(params.getlist("date"))]
    handoff_filter = params.get("_handoff")
    if handoff_filter not in (None, "mine"):
        raise FhirProblem(400, "invalid", "_handoff takes the value 'mine' only.")
    own = _own_handoff_ids(session, who)
    if handoff_filter == "mine":
        conditions.append(db.Appointment.id.in_(sorted(own) or [""]))
    rows = session.scalars(select(db.Appointment).where(*conditions)
                           .order_by(db.Appointment.start_at, db.Appointment.id)
                           .limit(MAX_RESULTS))
    names = _type_names(session, org.id)
    found = [appointment_resource(r, names.get(r.appointment_type_id, ""))
             for r in rows if not r.deleted or r.id in own]
    session.rollback()
    return _searchset(request, org, base, found)


def _published_for(who: Caller, org: db.Organization, session: Session, now: datetime,
                   scope: str) -> publish.Published:
    require_scope(who, scope, session, now)
    return _published(session, org, now, with_slots=scope == "system/Slot.read")


@router.get("/Location", summary="Search Locations")
def search_locations(org: Org, request: Request, who: Client, session: SessionDep,
                     now: NowDep, base: Base) -> Response:
    require_scope(who, "system/Location.read", session, now)
    phone = policy_of(session, org.id).clinic_phone
    rows = session.scalars(select(db.Clinic).where(db.Clinic.organization_id == org.id)
                           .order_by(db.Clinic.id))
    found = [publish.location_resource(c, phone) for c in rows]
    session.rollback()
    return _searchset(request, org, base, found)


@router.get("/Location/{location_id}", summary="Read a Location")
def read_location(org: Org, location_id: str, who: Client, session: SessionDep,
                  now: NowDep) -> Response:
    require_scope(who, "system/Location.read", session, now)
    row = _in_org(session, who, db.Clinic, location_id, now, "clinic")
    resource = publish.location_resource(row, policy_of(session, org.id).clinic_phone)
    session.rollback()
    return fhir_json(resource)


def _practitioners(session: Session, org_id: str) -> Any:
    return select(db.Resource).where(db.Resource.organization_id == org_id,
                                     db.Resource.kind == "provider")


@router.get("/Practitioner", summary="Search Practitioners")
def search_practitioners(org: Org, request: Request, who: Client, session: SessionDep,
                         now: NowDep, base: Base) -> Response:
    require_scope(who, "system/Practitioner.read", session, now)
    rows = session.scalars(_practitioners(session, org.id).order_by(db.Resource.id))
    found = [practitioner_resource(r) for r in rows]
    session.rollback()
    return _searchset(request, org, base, found)


@router.get("/Practitioner/{practitioner_id}", summary="Read a Practitioner")
def read_practitioner(org: Org, practitioner_id: str, who: Client, session: SessionDep,
                      now: NowDep) -> Response:
    require_scope(who, "system/Practitioner.read", session, now)
    row = _in_org(session, who, db.Resource, practitioner_id, now, "resource")
    if row.kind != "provider":
        raise NOT_FOUND
    resource = practitioner_resource(row)
    session.rollback()
    return fhir_json(resource)


@router.get("/Schedule", summary="Search Schedules (the published ones)")
def search_schedules(org: Org, request: Request, who: Client, session: SessionDep,
                     now: NowDep, base: Base) -> Response:
    published = _published_for(who, org, session, now, "system/Schedule.read")
    return _searchset(request, org, base, published.schedules)


@router.get("/Schedule/{schedule_id}", summary="Read a Schedule")
def read_schedule(org: Org, schedule_id: str, who: Client, session: SessionDep,
                  now: NowDep) -> Response:
    published = _published_for(who, org, session, now, "system/Schedule.read")
    for resource in published.schedules:
        if resource["id"] == schedule_id:
            return fhir_json(resource)
    raise NOT_FOUND


@router.get("/Slot", summary="Search Slots (schedule, start=ge…/lt…, status)")
def search_slots(org: Org, request: Request, who: Client, session: SessionDep,
                 now: NowDep, base: Base) -> Response:
    published = _published_for(who, org, session, now, "system/Slot.read")
    params = request.query_params
    found = publish.slot_resources(session, published, base, None)
    session.rollback()
    schedule = params.get("schedule")
    if schedule:
        found = [r for r in found if r["schedule"]["reference"] in (schedule,
                                                                    f"Schedule/{schedule}")]
    status = params.get("status")
    if status:
        found = [r for r in found if r["status"] == status]
    for value in params.getlist("start")[:4]:
        prefix, text = (value[:2], value[2:]) if value[:2] in _DATE_PREFIXES else ("eq", value)
        found = [r for r in found if _compare(r["start"], prefix, text)]
    return _searchset(request, org, base, found[:MAX_RESULTS])


def _compare(start: str, prefix: str, text: str) -> bool:
    try:
        bound = datetime.fromisoformat((text + "T00:00:00+00:00") if len(text) == 10
                                       else text.replace("Z", "+00:00"))
    except ValueError:
        raise FhirProblem(400, "invalid", "start must be ge/gt/le/lt followed by a day or an "
                          "instant.") from None
    if bound.tzinfo is None:
        raise FhirProblem(400, "invalid", "start instants need their offset.")
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return {"ge": moment >= bound, "gt": moment > bound, "le": moment <= bound,
            "lt": moment < bound, "eq": moment == bound}[prefix]


@router.get("/Slot/{slot_id}", summary="Read a Slot")
def read_slot(org: Org, slot_id: str, who: Client, session: SessionDep, now: NowDep,
              base: Base) -> Response:
    published = _published_for(who, org, session, now, "system/Slot.read")
    for resource in publish.slot_resources(session, published, base, None):
        if resource["id"] == slot_id:
            session.rollback()
            return fhir_json(resource)
    raise NOT_FOUND


# --------------------------------------------------------------------------- back channel


async def result_token_of(request: Request) -> str:
    """``resultToken`` from a JSON body or a form body (at most 4 KiB read)."""
    raw = (await request.body())[:4096]
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return ""
        value = body.get("resultToken") if isinstance(body, dict) else None
        return value if isinstance(value, str) else ""
    try:
        return dict(parse_qsl(raw.decode("utf-8"))).get("resultToken", "")
    except UnicodeDecodeError:
        return ""


@router.post("/handoff/result", summary="Exchange a resultToken for the FHIR Appointment")
def handoff_result(org: Org, who: Client, session: SessionDep, now: NowDep,
                   result_token: Annotated[str, Depends(result_token_of)]) -> Response:
    if "handoff" not in who.scopes:
        _refused(session, org.id, "handoff.exchange", "missing_scope:handoff", who.client.id,
                 now)
        raise FhirProblem(403, "forbidden", "This token lacks the scope 'handoff'.")
    try:
        exchanged = handoff.exchange(session, who.client, result_token, now=now)
    except handoff.HandoffRefused as refused:
        raise FhirProblem(400, "invalid" if refused.code == handoff.TOKEN_INVALID
                          else "expired" if refused.code == handoff.TOKEN_EXPIRED
                          else "business-rule", refused.code) from None
    row = db.get_in_org(session, db.Appointment, org.id, exchanged.appointment_id)
    if row is None:  # deleted outright since; the exchange stays spent
        session.commit()
        raise NOT_FOUND
    resource = appointment_resource(row, _type_names(session, org.id).get(
        row.appointment_type_id, ""))
    session.commit()
    return fhir_json(resource)
