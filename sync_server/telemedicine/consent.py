"""Consent forms: versioned texts per appointment type, and their acceptance per visit.

Saving a type's form adds a version (the texts a patient accepted are never edited
under them). A visit's consent is *required* when its type has a form; it is
*accepted* when the patient accepted the type's current version for that appointment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import limits
from sync_server.db import models as db
from sync_server.telemedicine.models import ConsentAcceptance, ConsentForm

CHANNELS = ("portal", "desk")


class ConsentError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class ConsentState:
    """What the desk and the portal show about one visit's consent."""

    required: bool
    form_id: str | None = None
    version: int | None = None
    accepted_version: int | None = None
    accepted_at: datetime | None = None
    channel: str | None = None

    @property
    def accepted(self) -> bool:
        return self.required and self.accepted_version == self.version


def save_form(session: Session, organization_id: str, appointment_type_id: str,
              text_en: str, text_es: str, user_id: str | None, now: datetime) -> ConsentForm:
    """The type's next version of its consent form (the caller commits)."""
    kind = session.get(db.AppointmentType, appointment_type_id)
    if kind is None or kind.organization_id != organization_id:
        raise ConsentError("unknown_appointment_type", "No such appointment type.")
    for text, language in ((text_en, "English"), (text_es, "Spanish")):
        problem = limits.text_problem(text, limits.TEMPLATE, multiline=True)
        if problem is not None or not text.strip():
            raise ConsentError("bad_text", f"The {language} text must be {problem or 'given'}.")
    last = session.scalar(select(func.max(ConsentForm.version)).where(
        ConsentForm.appointment_type_id == appointment_type_id)) or 0
    row = ConsentForm(id=str(uuid.uuid4()), organization_id=organization_id,
                      appointment_type_id=appointment_type_id, version=last + 1,
                      text_en=text_en, text_es=text_es, created_by=user_id, created_at=now)
    session.add(row)
    session.flush()  # two saves at once: the unique version index refuses the second
    return row


def forms(session: Session, organization_id: str,
          appointment_type_id: str | None = None) -> list[ConsentForm]:
    query = select(ConsentForm).where(ConsentForm.organization_id == organization_id)
    if appointment_type_id is not None:
        query = query.where(ConsentForm.appointment_type_id == appointment_type_id)
    return list(session.scalars(query.order_by(ConsentForm.appointment_type_id,
                                               ConsentForm.version)))


def current_form(session: Session, organization_id: str,
                 appointment_type_id: str) -> ConsentForm | None:
    return session.scalars(select(ConsentForm).where(
        ConsentForm.organization_id == organization_id,
        ConsentForm.appointment_type_id == appointment_type_id)
        .order_by(ConsentForm.version.desc()).limit(1)).first()


def state(session: Session, appointment: db.Appointment) -> ConsentState:
    form = current_form(session, appointment.organization_id, appointment.appointment_type_id)
    if form is None:
        return ConsentState(required=False)
    last = session.scalars(select(ConsentAcceptance).where(
        ConsentAcceptance.organization_id == appointment.organization_id,
        ConsentAcceptance.appointment_id == appointment.id)
        .order_by(ConsentAcceptance.accepted_at.desc()).limit(1)).first()
    return ConsentState(True, form.id, form.version, last.version if last else None,
                        last.accepted_at if last else None, last.channel if last else None)


def accept(session: Session, appointment: db.Appointment, form_id: str, channel: str,
           language: str, now: datetime) -> ConsentAcceptance:
    """Record that the appointment's patient accepted form ``form_id``, which must be the
    type's current version (a form changed since the page was shown is read again)."""
    form = current_form(session, appointment.organization_id, appointment.appointment_type_id)
    if form is None:
        raise ConsentError("no_form", "This visit asks for no consent.")
    if form.id != form_id:
        raise ConsentError("form_changed", "The consent form changed; read it again.")
    row = ConsentAcceptance(id=str(uuid.uuid4()), organization_id=appointment.organization_id,
                            appointment_id=appointment.id, patient_id=appointment.patient_id,
                            consent_form_id=form.id, version=form.version, channel=channel,
                            language=language, accepted_at=now)
    session.add(row)
    return row
