"""Tables of the calendar feeds (migration 0005_calendar_feeds).

A feed is one provider's or room's calendar published at a secret URL. Only the
SHA-256 of its token is stored; ``version`` moves whenever an appointment of
that resource changes (:mod:`sync_server.feeds.versions`) and is what the ETag
is made of, so a refresh that changed nothing is answered without reading
appointments. Fetches are audited in their own table (feed, time, client
address, answer; never the token), apart from the hash-chained audit log whose
head lock every booking takes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db.models import ID, Base, org_fk, org_ref
from sync_server.db.types import BigIntId

PRIVACY_LEVELS = ("busy", "initials", "full")


class CalendarFeed(Base):
    __tablename__ = "calendar_feeds"
    __table_args__ = (
        CheckConstraint("privacy IN ('busy', 'initials', 'full')", name="privacy"),
        Index("ix_calendar_feeds_org_resource", "organization_id", "resource_id"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    resource_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id", ondelete="CASCADE"))
    #: Where the link is used ("Phone", "Office PC"): the admin's own label.
    label: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    privacy: Mapped[str] = mapped_column(String(16), default="busy")
    #: Language of the calendar's name and of the event texts (``en`` / ``es``).
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime]
    created_by_user_id: Mapped[str | None] = mapped_column(ID)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: Moved by every change of an appointment of the resource (the ETag's source).
    version: Mapped[int] = mapped_column(BigIntId, default=1)
    changed_at: Mapped[datetime]
    last_fetched_at: Mapped[datetime | None]


class CalendarFeedFetch(Base):
    """One fetch of a feed: who asked (client address), when, and what they got."""

    __tablename__ = "calendar_feed_fetches"
    __table_args__ = (Index("ix_calendar_feed_fetches_feed_at", "feed_id", "at"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = org_fk()
    feed_id: Mapped[str] = mapped_column(ID, ForeignKey("calendar_feeds.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    client_address: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(8), default="GET")
    status: Mapped[int] = mapped_column(Integer)


class CalendarFeedPolicy(Base):
    """An organization's feed settings; no row means the defaults below."""

    __tablename__ = "calendar_feed_policies"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    allow_full: Mapped[bool] = mapped_column(Boolean, default=False)
    past_days: Mapped[int] = mapped_column(Integer, default=30)
    ahead_days: Mapped[int] = mapped_column(Integer, default=365)
    cancelled_visible_days: Mapped[int] = mapped_column(Integer, default=14)
    refresh_minutes: Mapped[int] = mapped_column(Integer, default=15)


class BusyCalendar(Base):
    """A provider's external busy calendar (an .ics URL read, never written)."""

    __tablename__ = "busy_calendars"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    provider_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id", ondelete="CASCADE"),
                                             index=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    #: Why the last refresh failed (shown on the provider), empty when it worked.
    last_error: Mapped[str] = mapped_column(String(500), default="")
    busy_count: Mapped[int] = mapped_column(Integer, default=0)


class BusyBlock(Base):
    """A blockout written for one busy time of an external calendar."""

    __tablename__ = "busy_blocks"
    __table_args__ = (org_ref("blockout_id", "blockouts", ondelete="CASCADE"),)
    blockout_id: Mapped[str] = mapped_column(ID, primary_key=True)
    busy_calendar_id: Mapped[str] = mapped_column(
        ID, ForeignKey("busy_calendars.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[str] = org_fk(primary_key=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
