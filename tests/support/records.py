"""Reading a record by its id alone in tests (ids are unique per organization, and the
tests' ids are fresh UUIDs: one organization has each)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

T = TypeVar("T")


def by_id(session: Session, model: type[T], record_id: str) -> T | None:
    """The record of ``model`` with ``record_id`` (in whichever organization has it)."""
    table: Any = model
    return session.scalars(select(model).where(table.id == record_id)).one_or_none()


def video_url_of(session: Session, appointment_id: str) -> str | None:
    """:func:`sync_server.telemedicine.rooms.video_url` of the appointment with that id."""
    from sync_server.db import models
    from sync_server.telemedicine import rooms

    row = by_id(session, models.Appointment, appointment_id)
    return None if row is None else rooms.video_url(session, row.organization_id, row.id)
