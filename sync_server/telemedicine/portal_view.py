"""What the patient's appointment page shows of a telemedicine visit (the partial
``_telemedicine_visit.html``): the video link, the consent form to accept and the
documents sent so far."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync_server.db import models as db
from sync_server.telemedicine import consent, documents, rooms
from sync_server.telemedicine.documents import MAX_BYTES, MAX_FILES, DocumentInfo
from sync_server.telemedicine.models import ConsentForm

if TYPE_CHECKING:
    from sync_server.portal.visit import Visit


@dataclass(frozen=True, slots=True)
class PortalVisit:
    video_url: str | None
    consent: consent.ConsentState
    #: The current consent form's text in the page's language ("" when none is asked).
    consent_text: str
    documents: list[DocumentInfo]
    #: The visit is still to come: consent and documents may be given.
    open: bool
    max_files: int = MAX_FILES
    max_megabytes: int = MAX_BYTES // (1024 * 1024)

    @property
    def can_upload(self) -> bool:
        return self.open and len(self.documents) < self.max_files


def sealer_of(v: Visit) -> documents.Sealer:
    return documents.Sealer(v.request.app.state.context.settings.document_key_bytes())


def visit_view(v: Visit, row: db.Appointment) -> PortalVisit | None:
    """``None`` unless the appointment is a telemedicine visit that still stands."""
    if row.status in rooms.CLOSED or not rooms.is_telemedicine(v.db, row.appointment_type_id):
        return None
    state = consent.state(v.db, row)
    text = ""
    if state.required:
        form = v.db.get(ConsentForm, state.form_id)
        text = (form.text_es if v.page.lang == "es" else form.text_en) if form else ""
    return PortalVisit(rooms.video_url(v.db, row.organization_id, row.id), state, text,
                       documents.listed(v.db, sealer_of(v), row.organization_id, row.id),
                       is_open(v, row))


def is_open(v: Visit, row: db.Appointment) -> bool:
    return row.status not in rooms.CLOSED and row.end_at > v.now
