"""HTTP routes of telemedicine visits for staff (docs/telemedicine.md).

The desk calls the visit routes as itself naming the signed-in user (like the
follow-ups API): a visit's video link, consent state and documents, and a document's
download (audited; another organization's appointment or document is a plain 404).
Administrators keep the video link settings and the consent forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.api.deps import ContextDep, NowDep, SessionDep, require, sqlite_write_turn
from sync_server.api.fields import AppointmentId, BaseUrl, Id, TemplateTextRequired
from sync_server.core.context import ServerContext
from sync_server.db import models as db
from sync_server.notifications.routes import needs
from sync_server.services import accounts, audit
from sync_server.services.errors import InvalidInput, NotFound
from sync_server.telemedicine import consent, documents, rooms
from sync_server.telemedicine.models import (
    ConsentForm,
    ProviderVideoLink,
    TelemedicineSettings,
)

router = APIRouter(tags=["telemedicine"], dependencies=[Depends(sqlite_write_turn)])
Viewer = Annotated[accounts.Principal, Depends(needs("booking:view_calendar"))]
Admin = Annotated[accounts.Principal, Depends(require("admin:config"))]


def sealer(context: ServerContext) -> documents.Sealer:
    return documents.Sealer(context.settings.document_key_bytes())


def instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _appointment(session: Session, organization_id: str, appointment_id: str) -> db.Appointment:
    row = db.get_in_org(session, db.Appointment, organization_id, appointment_id)
    if row is None or row.deleted:
        raise NotFound("No such appointment.", code="unknown_appointment")
    return row


# --------------------------------------------------------------------------- visits


@router.get("/appointments/{appointment_id}/telemedicine")
def visit(appointment_id: AppointmentId, user: Viewer, session: SessionDep,
          context: ContextDep) -> dict[str, Any]:
    """The visit's video link (``null``: not a telemedicine visit, cancelled, or no link
    configured), its consent state and its documents (names decrypted)."""
    row = _appointment(session, user.organization_id, appointment_id)
    state = consent.state(session, row)
    found = documents.listed(session, sealer(context), user.organization_id, row.id)
    return {
        "appointment_id": row.id,
        "telemedicine": rooms.is_telemedicine(session, row.appointment_type_id),
        "video_url": rooms.video_url(session, row.organization_id, row.id),
        "consent": {"required": state.required, "version": state.version,
                    "accepted": state.accepted, "accepted_version": state.accepted_version,
                    "accepted_at": instant(state.accepted_at), "channel": state.channel},
        "documents": [{"id": d.id, "name": d.name, "content_type": d.content_type,
                       "size": d.size, "uploaded_at": instant(d.uploaded_at)} for d in found],
    }


@router.get("/appointments/{appointment_id}/telemedicine/documents/{document_id}")
def download(appointment_id: AppointmentId, document_id: Id, user: Viewer,
             session: SessionDep, context: ContextDep, now: NowDep) -> Response:
    """One document's content (the download is audited; the name is not)."""
    row = _appointment(session, user.organization_id, appointment_id)
    found = documents.opened(session, sealer(context), user.organization_id, row.id,
                             document_id)
    if found is None:
        raise NotFound("No such document.", code="unknown_document")
    info, content = found
    audit.append(session, user.organization_id, at=now, actor=user.actor,
                 intent="telemedicine.document_download", outcome="accepted",
                 target_type="visit_document", target_id=info.id)
    session.commit()
    return Response(content, media_type=info.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name)}",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# --------------------------------------------------------------------------- administration


def _template(value: str) -> str:
    if value and (rooms.ROOM_PLACEHOLDER not in value
                  or not value.startswith(("https://", "http://"))):
        raise ValueError("the template is an http(s) address with {room} in it")
    return value


def _link(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("a video link is an http(s) address")
    return value


class ProviderLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider_id: Id
    url: Annotated[BaseUrl, AfterValidator(_link)]


class VideoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url_template: Annotated[BaseUrl, AfterValidator(_template)] = ""
    provider_links: Annotated[list[ProviderLink], Field(max_length=500)] = []


@router.get("/telemedicine/settings", response_model=VideoSettings)
def get_settings(user: Admin, session: SessionDep) -> VideoSettings:
    row = session.get(TelemedicineSettings, user.organization_id)
    links = session.scalars(select(ProviderVideoLink).where(
        ProviderVideoLink.organization_id == user.organization_id))
    return VideoSettings(url_template=row.url_template if row else "", provider_links=[
        ProviderLink(provider_id=link.provider_id, url=link.url) for link in links])


@router.put("/telemedicine/settings", response_model=VideoSettings)
def put_settings(body: VideoSettings, user: Admin, session: SessionDep,
                 now: NowDep) -> VideoSettings:
    """The video link template and the providers' own links (the list replaces them)."""
    org = user.organization_id
    for link in body.provider_links:
        provider = session.get(db.Resource, link.provider_id)
        if provider is None or provider.organization_id != org or provider.kind != "provider":
            raise NotFound("No such provider.", code="unknown_provider")
    row = session.get(TelemedicineSettings, org)
    if row is None:
        row = TelemedicineSettings(organization_id=org, updated_at=now)
        session.add(row)
    row.url_template, row.updated_at = body.url_template, now
    for old in session.scalars(select(ProviderVideoLink).where(
            ProviderVideoLink.organization_id == org)):
        session.delete(old)
    session.flush()
    for link in body.provider_links:
        session.add(ProviderVideoLink(provider_id=link.provider_id, organization_id=org,
                                      url=link.url, updated_at=now))
    audit.append(session, org, at=now, actor=user.actor, intent="telemedicine.settings",
                 outcome="accepted", target_type="organization", target_id=org)
    session.commit()
    return get_settings(user, session)


class ConsentFormBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    appointment_type_id: Id
    text_en: TemplateTextRequired
    text_es: TemplateTextRequired


def _form_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "appointment_type_id": row.appointment_type_id,
            "version": row.version, "text_en": row.text_en, "text_es": row.text_es,
            "created_at": instant(row.created_at)}


@router.get("/telemedicine/consent-forms")
def list_consent_forms(user: Admin, session: SessionDep,
                       appointment_type_id: Id | None = None) -> list[dict[str, Any]]:
    """Every version of the organization's consent forms (of one type if asked)."""
    return [_form_json(row) for row in consent.forms(
        session, user.organization_id, appointment_type_id)]


class ConsentTextsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text_en: TemplateTextRequired
    text_es: TemplateTextRequired


@router.post("/telemedicine/consent-forms", status_code=201)
def save_consent_form(body: ConsentFormBody, user: Admin, session: SessionDep,
                      now: NowDep) -> dict[str, Any]:
    """A new version of the type's consent form (visits accepted earlier versions keep
    them; their consent shows as to be accepted again)."""
    return _save_version(session, user, body.appointment_type_id, body.text_en,
                         body.text_es, now)


@router.patch("/telemedicine/consent-forms/{form_id}")
def edit_consent_form(form_id: Id, body: ConsentTextsBody, user: Admin, session: SessionDep,
                      now: NowDep) -> dict[str, Any]:
    """Editing a form saves the next version of its type's form (the one edited stays)."""
    form = session.get(ConsentForm, form_id)
    if form is None or form.organization_id != user.organization_id:
        raise NotFound("No such consent form.", code="unknown_consent_form")
    return _save_version(session, user, form.appointment_type_id, body.text_en, body.text_es,
                         now)


def _save_version(session: Session, user: accounts.Principal, appointment_type_id: str,
                  text_en: str, text_es: str, now: datetime) -> dict[str, Any]:
    try:
        row = consent.save_form(session, user.organization_id, appointment_type_id,
                                text_en, text_es, user.user_id, now)
    except consent.ConsentError as error:
        if error.code.startswith("unknown_"):
            raise NotFound(error.message, code=error.code) from None
        raise InvalidInput(error.message, code=error.code) from None
    audit.append(session, user.organization_id, at=now, actor=user.actor,
                 intent="telemedicine.consent_form", outcome="accepted",
                 target_type="consent_form", target_id=row.id)
    session.commit()
    return _form_json(row)
