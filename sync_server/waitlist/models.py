"""Tables of waitlist offers and no-shows (migration 0012_waitlist_offers).

* ``freed_slots``: time that became free with one provider (a cancellation, a move away,
  a no-show, new working hours (:mod:`sync_server.waitlist.new_hours`), or a slot staff
  offer by hand), written by the event handler in the change's
  transaction; the offer step of the worker works through them.
* ``waitlist_offers``: one offer of a freed slot to one waitlist entry, with a hold that
  expires. ``state``: ``open`` → ``accepted`` (booked), ``expired`` (the hold ran out),
  ``gone`` (someone else took the slot, or the desk re-booked it), ``withdrawn``.
* ``patient_no_shows``: one row per appointment marked no-show (deleted when undone).
* ``care_settings``: an organization's hold length, offers at once and no-show policy
  (no row: the defaults).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db.models import APPOINTMENT_ID, ID, Base, org_fk

SLOT_STATES = ("pending", "offering", "taken", "exhausted")
OFFER_STATES = ("open", "accepted", "expired", "gone", "withdrawn")
#: Why a slot was freed.
REASONS = ("cancelled", "moved", "no_show", "manual", "new_hours")


class FreedSlot(Base):
    __tablename__ = "freed_slots"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'offering', 'taken', 'exhausted')",
                        name="state"),
        Index("ix_freed_slots_work", "state", "next_check_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    clinic_id: Mapped[str] = mapped_column(ID)
    provider_id: Mapped[str] = mapped_column(ID)
    room_id: Mapped[str | None] = mapped_column(ID)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    #: The appointment whose change freed it (``None``: offered by hand).
    source_appointment_id: Mapped[str | None] = mapped_column(APPOINTMENT_ID)
    reason: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    #: When the offer step looks at it again (the first hold's expiry).
    next_check_at: Mapped[datetime]
    booked_appointment_id: Mapped[str | None] = mapped_column(APPOINTMENT_ID)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WaitlistOffer(Base):
    __tablename__ = "waitlist_offers"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'accepted', 'expired', 'gone', 'withdrawn')",
                        name="state"),
        Index("uq_waitlist_offers_slot_entry", "slot_id", "entry_id", unique=True),
        Index("ix_waitlist_offers_org_state", "organization_id", "state"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    slot_id: Mapped[str] = mapped_column(ID, ForeignKey("freed_slots.id", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(ID)
    patient_id: Mapped[str] = mapped_column(ID)
    #: 1 for the best-ranked entry of the slot, 2 for the next …
    rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="open")
    #: Who made it: ``auto`` or the staff user's id.
    offered_by: Mapped[str] = mapped_column(String(40), default="auto")
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    appointment_id: Mapped[str | None] = mapped_column(APPOINTMENT_ID)


class PatientNoShow(Base):
    __tablename__ = "patient_no_shows"
    __table_args__ = (UniqueConstraint("appointment_id", "organization_id",
                                       name="uq_patient_no_shows_appointment_org"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    patient_id: Mapped[str] = mapped_column(ID, index=True)
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    #: The missed appointment's start (what the policy's window counts).
    missed_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class CareSettings(Base):
    __tablename__ = "care_settings"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    offer_hold_minutes: Mapped[int] = mapped_column(Integer, default=30)
    #: Entries offered one slot at the same time (the first to accept books it).
    offers_at_once: Mapped[int] = mapped_column(Integer, default=2)
    offers_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    no_show_limit: Mapped[int] = mapped_column(Integer, default=3)
    no_show_months: Mapped[int] = mapped_column(Integer, default=12)
    no_show_message: Mapped[bool] = mapped_column(Boolean, default=True)
