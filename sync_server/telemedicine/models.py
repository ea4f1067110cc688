"""Tables of telemedicine visits (migration 0019_telemedicine_visits).

``telemedicine_settings``: an organization's video link template (``{room}`` stands for
the appointment's room name). ``provider_video_links``: a link the clinic pasted for one
provider (it wins over the template). ``video_rooms``: the unguessable room name of each
telemedicine appointment, written in the booking's transaction. ``consent_forms``:
versioned consent texts (EN and ES) per appointment type; editing adds a version.
``consent_acceptances``: who accepted which version, when and from which channel.
``visit_documents``: pre-visit documents, their content and file name encrypted
(AES-GCM, :mod:`.documents`); nothing about them is readable without the key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from scheduling import limits
from sync_server.db.models import APPOINTMENT_ID, ID, Base, org_fk


class TelemedicineSettings(Base):
    __tablename__ = "telemedicine_settings"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    #: ``https://meet.jit.si/{room}``; empty: only providers' own links.
    url_template: Mapped[str] = mapped_column(String(limits.BASE_URL), default="")
    updated_at: Mapped[datetime]


class ProviderVideoLink(Base):
    __tablename__ = "provider_video_links"
    provider_id: Mapped[str] = mapped_column(
        ID, ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = org_fk()
    url: Mapped[str] = mapped_column(String(limits.BASE_URL))
    updated_at: Mapped[datetime]


class VideoRoom(Base):
    __tablename__ = "video_rooms"
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID, primary_key=True)
    organization_id: Mapped[str] = org_fk(primary_key=True)
    #: 192 random bits, URL-safe (never derived from the appointment or the patient).
    room: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class ConsentForm(Base):
    __tablename__ = "consent_forms"
    __table_args__ = (
        Index("uq_consent_forms_type_version", "appointment_type_id", "version", unique=True),
        CheckConstraint("version >= 1", name="version"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_type_id: Mapped[str] = mapped_column(
        ID, ForeignKey("appointment_types.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text_en: Mapped[str] = mapped_column(String(limits.TEMPLATE))
    text_es: Mapped[str] = mapped_column(String(limits.TEMPLATE))
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime]


class ConsentAcceptance(Base):
    __tablename__ = "consent_acceptances"
    __table_args__ = (
        CheckConstraint("channel IN ('portal', 'desk')", name="channel"),
        Index("ix_consent_acceptances_appointment", "appointment_id", "accepted_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    patient_id: Mapped[str] = mapped_column(ID)
    consent_form_id: Mapped[str] = mapped_column(ID, ForeignKey("consent_forms.id"))
    version: Mapped[int] = mapped_column(Integer)
    #: ``portal`` (the patient, signed in) or ``desk``.
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(limits.LANGUAGE))
    accepted_at: Mapped[datetime]


class VisitDocument(Base):
    __tablename__ = "visit_documents"
    __table_args__ = (
        CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')",
                        name="content_type"),
        Index("ix_visit_documents_appointment", "appointment_id", "uploaded_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    #: Nonce + AES-GCM ciphertext of the file name and of the content.
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime]
