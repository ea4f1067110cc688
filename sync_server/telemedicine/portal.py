"""The patient's telemedicine forms on the portal's appointment page: accepting the
consent form and sending pre-visit documents.

Both are plain HTML forms (no JavaScript) with the CSRF token, for the signed-in
patient's own appointment only (any other id is the portal's audited 404). A refused
upload stores nothing and answers the appointment page with the reason in the page's
language. The upload is ``multipart/form-data``, read here without python-multipart;
its path is allowed a larger body (:data:`MAX_UPLOAD_BODY`) by the request middleware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from scheduling.refusals import N_
from sync_server.api.deps import sqlite_write_turn
from sync_server.db import models as db
from sync_server.portal import routes as portal_routes
from sync_server.portal import service as portal_service
from sync_server.portal.visit import FormDep, Posted, Visit, VisitDep
from sync_server.services import audit
from sync_server.telemedicine import consent, documents, portal_view

router = APIRouter(prefix="/portal", include_in_schema=False,
                   dependencies=[Depends(sqlite_write_turn)])
UPLOAD_PATH_SUFFIX = "/telemedicine/documents"
#: The largest upload body: a file of the largest size plus the form's other parts; a
#: file a little over the limit still gets the page's clear answer.
MAX_UPLOAD_BODY = 2 * documents.MAX_BYTES


@dataclass(frozen=True, slots=True)
class Upload:
    """The upload form: its CSRF token and its one file (name and content)."""

    csrf: str
    name: str
    content: bytes


async def uploaded(request: Request) -> Upload:
    """The posted ``multipart/form-data`` (an unreadable body reads as an empty form)."""
    body = await request.body()
    boundary = _boundary(request.headers.get("content-type", ""))
    csrf, name, content = "", "", b""
    if boundary:
        for part in (b"\r\n" + body).split(b"\r\n--" + boundary)[1:]:
            head, _, data = part.partition(b"\r\n\r\n")
            field, filename = _disposition(head.decode("utf-8", "replace"))
            if field == "csrf":
                csrf = data.decode("utf-8", "replace")[:200]
            elif field == "document":
                name, content = filename, data
    return Upload(csrf, name, content)


def _boundary(content_type: str) -> bytes:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return b""
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and 0 < len(value.strip('"')) <= 200:
            return value.strip('"').encode("latin-1", "replace")
    return b""


def _disposition(head: str) -> tuple[str, str]:
    """The part's field name and file name (browsers escape ``"`` and line breaks)."""
    field = filename = ""
    for line in head.split("\r\n"):
        if not line.lower().startswith("content-disposition:"):
            continue
        for param in line.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            value = value.strip('"').replace("%22", '"').replace("%0A", "\n") \
                .replace("%0D", "\r")
            if key.lower() == "name":
                field = value
            elif key.lower() == "filename":
                filename = value.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return field, filename


UploadDep = Annotated[Upload, Depends(uploaded)]


@router.post("/{org}/appointments/{appointment_id}/telemedicine/consent")
def accept_consent(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    row = _open_visit(v, appointment_id, form, N_(
        "This appointment is cancelled or over: there is nothing to accept."))
    if isinstance(row, Response):
        return row
    if form.get("agree") != "yes":
        return _show(v, row, N_("Tick the box to say you have read and accept the consent "
                                "form."))
    try:
        accepted = consent.accept(v.db, row, form.get("form", 36), "portal", v.page.lang,
                                  v.now)
    except consent.ConsentError as error:
        message = N_("The consent form has changed since you opened this page. Please read "
                     "it again.") if error.code == "form_changed" else \
            N_("This appointment does not ask for consent.")
        return _show(v, row, message)
    audit.append(v.db, v.org.id, at=v.now, actor=portal_service.AUDIT_ACTOR,
                 intent="portal.consent", outcome="accepted", target_type="appointment",
                 target_id=row.id, reason=f"version {accepted.version}")
    return v.to(f"/appointments/{row.id}?done=consented")


@router.post("/{org}/appointments/{appointment_id}" + UPLOAD_PATH_SUFFIX)
def upload_document(v: VisitDep, appointment_id: str, upload: UploadDep) -> Response:
    row = _open_visit(v, appointment_id, Posted({"csrf": upload.csrf}), N_(
        "This appointment is cancelled or over: documents cannot be sent for it."))
    if isinstance(row, Response):
        return row
    try:
        documents.store(v.db, portal_view.sealer_of(v), v.org.id, row.id, upload.name,
                        upload.content, v.now)
    except documents.DocumentRefused as refusal:
        return _refused(v, row, refusal.code, refusal.message,
                        413 if refusal.code == "too_large" else 400)
    audit.append(v.db, v.org.id, at=v.now, actor=portal_service.AUDIT_ACTOR,
                 intent="portal.document_upload", outcome="accepted",
                 target_type="appointment", target_id=row.id)
    return v.to(f"/appointments/{row.id}?done=uploaded")


def _open_visit(v: Visit, appointment_id: str, form: Posted,
                closed: str) -> db.Appointment | Response:
    """The patient's own visit, still to come, for a form with a valid CSRF token; else
    the page saying why not (audited)."""
    row = portal_routes._own_posted(v, appointment_id, form)
    if not isinstance(row, Response) and not portal_view.is_open(v, row):
        return v.refused("portal.telemedicine", "visit_closed", 400, closed,
                         target_type="appointment", target_id=row.id)
    return row


def _show(v: Visit, row: db.Appointment, message: str, status_code: int = 400) -> Response:
    return portal_routes.show_appointment(v, row, status_code=status_code,
                                          telemedicine_error=v.page._(message))


def _refused(v: Visit, row: db.Appointment, reason: str, message: str,
             status_code: int = 400) -> Response:
    """Audit the refusal (its code, never the file or its name) and show the page."""
    v.db.rollback()
    portal_service.refuse(v.db, v.org.id, "portal.telemedicine", reason, v.now,
                          target_type="appointment", target_id=row.id)
    return _show(v, row, message, status_code)
