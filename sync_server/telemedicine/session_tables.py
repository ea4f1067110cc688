"""Tables of the session log and the provider no-join path (migration
0021_telemedicine_sessions).

* ``telemedicine_events``: one row per join, leave or reported problem of a telemedicine
  appointment, by the patient (the portal's join page) or the provider (the desk).
  A problem keeps a category and a short text the patient wrote; neither is ever logged.
* ``telemedicine_no_join_settings``: an organization's minutes after the start before a
  provider who has not joined counts as not joining (no row: 5).
* ``telemedicine_no_joins``: one row per appointment whose provider did not join (its
  unique ``appointment_id`` makes the detection happen once). ``state``: ``claimed``
  (a worker is preparing the offer, under its lease) → ``offered`` → ``moved`` (to the
  backup provider), ``rebooked`` (to a new time) or ``closed`` (the provider joined after
  all, or the visit was cancelled).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db.models import APPOINTMENT_ID, ID, Base, org_fk

ROLES = ("patient", "provider")
ACTIONS = ("join", "leave", "problem")
#: What a patient can report (the join page's choices).
PROBLEMS = ("no_video", "no_sound", "cannot_connect", "dropped", "other")
#: The longest problem text kept.
PROBLEM_TEXT = 300
CASE_STATES = ("claimed", "offered", "moved", "rebooked", "closed")
DEFAULT_NO_JOIN_MINUTES = 5


class SessionEvent(Base):
    __tablename__ = "telemedicine_events"
    __table_args__ = (
        CheckConstraint("role IN ('patient', 'provider')", name="role"),
        CheckConstraint("action IN ('join', 'leave', 'problem')", name="action"),
        Index("ix_telemedicine_events_appointment", "appointment_id", "at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    role: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(8))
    #: The provider of the appointment when the event happened (statistics per provider).
    provider_id: Mapped[str] = mapped_column(ID)
    #: The staff user who joined or left (``None`` for the patient).
    user_id: Mapped[str | None] = mapped_column(ID)
    problem: Mapped[str | None] = mapped_column(String(16))
    problem_text: Mapped[str | None] = mapped_column(String(PROBLEM_TEXT))
    at: Mapped[datetime]


class NoJoinSettings(Base):
    __tablename__ = "telemedicine_no_join_settings"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    no_join_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_NO_JOIN_MINUTES)


class NoJoinCase(Base):
    __tablename__ = "telemedicine_no_joins"
    __table_args__ = (
        CheckConstraint("state IN ('claimed', 'offered', 'moved', 'rebooked', 'closed')",
                        name="state"),
        Index("ix_telemedicine_no_joins_work", "state", "lease_until"),
        UniqueConstraint("appointment_id", "organization_id",
                         name="uq_telemedicine_no_joins_appointment_org"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    #: The provider who did not join and the visit's start then.
    provider_id: Mapped[str] = mapped_column(ID)
    start_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="claimed")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    detected_at: Mapped[datetime]
    #: The offer: a backup provider free now (or none) and the next free times,
    #: ``[{"start": iso, "end": iso, "provider_id": id}, ...]``.
    backup_provider_id: Mapped[str | None] = mapped_column(ID)
    slots: Mapped[list[Any]] = mapped_column(default=list)
    answered_at: Mapped[datetime | None]
