"""Tables of outage incidents (migration 0013_followups_outages).

An incident is one "out of service" decision: the outage record it created (which
blocks new bookings like any outage), who made it, and one decision row per affected
appointment — moved where, by whom, or left for the exceptions panel.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from scheduling import limits
from sync_server.db.models import APPOINTMENT_ID, ID, Base, org_fk


class OutageIncident(Base):
    __tablename__ = "outage_incidents"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    outage_id: Mapped[str] = mapped_column(ID)
    resource_id: Mapped[str] = mapped_column(ID)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(limits.REASON), default="")
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime]


class OutageDecision(Base):
    """What was decided for one affected appointment."""

    __tablename__ = "outage_decisions"
    __table_args__ = (CheckConstraint("action IN ('moved', 'unplaced')", name="action"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    incident_id: Mapped[str] = mapped_column(
        ID, ForeignKey("outage_incidents.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    action: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(ID)
    room_id: Mapped[str | None] = mapped_column(ID)
    by_user_id: Mapped[str | None] = mapped_column(ID)
    at: Mapped[datetime]
