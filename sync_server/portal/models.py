"""Tables of the patient portal (migration 0011_portal).

``portal_codes`` holds one-time sign-in codes: the address they were sent to and the
code are stored only as keyed hashes. ``portal_sessions`` is the server side of the
portal's cookie (its token stored hashed): the verified address (needed to find or
register the patient; never put in a URL or a log), the patient once known, the
hand-off in progress and the expiry. ``portal_settings`` holds an organization's
widget allow-list (the sites that may frame the booking pages).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from scheduling import limits
from sync_server.db.models import ID, Base, org_fk


class PortalSettings(Base):
    """An organization's portal settings; no row means not embeddable anywhere."""

    __tablename__ = "portal_settings"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    #: Origins (``https://clinic.example``) allowed in the pages' ``frame-ancestors``.
    widget_sites: Mapped[list[Any]]
    #: The virtual check-in window around a telemedicine visit's start, in minutes
    #: (None: the default, :mod:`scheduling.checkin`).
    checkin_opens_minutes: Mapped[int | None] = mapped_column(Integer)
    checkin_closes_minutes: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class PortalCode(Base):
    __tablename__ = "portal_codes"
    __table_args__ = (Index("ix_portal_codes_org_address", "organization_id", "address_hash"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    address_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class PortalSession(Base):
    __tablename__ = "portal_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = org_fk()
    #: ``email`` or ``sms`` and the address a code was sent to; signed in once verified.
    channel: Mapped[str] = mapped_column(String(8), default="")
    address: Mapped[str] = mapped_column(String(limits.EMAIL), default="")
    code_id: Mapped[str | None] = mapped_column(ID)
    verified_at: Mapped[datetime | None]
    patient_id: Mapped[str | None] = mapped_column(ID)
    handoff_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
