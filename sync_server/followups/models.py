"""Tables of follow-ups and recalls (migration 0013_followups_outages).

``follow_ups`` holds one row per (completed visit, kind): the patient, the type wanted
(the visit's own type), the clinic and the window of local days in which a matching
booking satisfies it (:mod:`scheduling.followups`). ``follow_up_contacts`` is the
outreach log: booking invitations sent through the notifications outbox and calls
logged by staff (who, when, a note). Rows hold ids, days and codes; a call's note is
the staff's own text and is never logged.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from scheduling import limits
from sync_server.db.models import APPOINTMENT_ID, ID, Base, org_fk

STATES = ("open", "satisfied", "void")
CONTACT_KINDS = ("invitation", "call")


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint("kind IN ('follow_up', 'recall')", name="kind"),
        CheckConstraint("state IN ('open', 'satisfied', 'void')", name="state"),
        CheckConstraint("due_from <= due_until", name="window"),
        # Completing a visit twice (completed, undone, completed) opens one row per kind.
        Index("uq_follow_ups_source", "source_appointment_id", "kind", "organization_id",
              unique=True),
        Index("ix_follow_ups_patient_open", "patient_id", "state"),
        Index("ix_follow_ups_org_due", "organization_id", "state", "due_from"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    clinic_id: Mapped[str] = mapped_column(ID)
    patient_id: Mapped[str] = mapped_column(ID)
    appointment_type_id: Mapped[str] = mapped_column(ID)
    #: The completed visit that asked for it.
    source_appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    kind: Mapped[str] = mapped_column(String(16))
    #: First and last local day (clinic's zone) in which a booking satisfies it.
    due_from: Mapped[date] = mapped_column(Date)
    due_until: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="open")
    satisfied_by: Mapped[str | None] = mapped_column(APPOINTMENT_ID)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FollowUpContact(Base):
    """One outreach attempt: an invitation queued, or a call logged."""

    __tablename__ = "follow_up_contacts"
    __table_args__ = (CheckConstraint("kind IN ('invitation', 'call')", name="kind"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    follow_up_id: Mapped[str] = mapped_column(
        ID, ForeignKey("follow_ups.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(limits.REASON), default="")
    by_user_id: Mapped[str | None] = mapped_column(ID)
    notification_id: Mapped[str | None] = mapped_column(ID)
    at: Mapped[datetime]
