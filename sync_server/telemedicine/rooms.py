"""The video room of each telemedicine appointment and the link that opens it.

A room is created in the booking's own transaction (:func:`open_video_room`, an
``AppointmentBooked`` handler listed in :data:`sync_server.services.handlers.HANDLERS`)
when the appointment's type is a telemedicine type. Its name is 192 random bits, so the
link cannot be guessed from anything about the visit. The link is the provider's own
(pasted by the clinic) when there is one, else the organization's template with
``{room}`` replaced; :func:`video_url` is what every other part asks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.model import AppointmentStatus
from sync_server.db import models as db
from sync_server.notifications.outbox import _change_time as change_time
from sync_server.services.calendar.config_cache import Config, kept_config
from sync_server.services.events import AppointmentBooked
from sync_server.services.unit_of_work import UnitOfWork
from sync_server.telemedicine.models import ProviderVideoLink, TelemedicineSettings, VideoRoom

ROOM_PLACEHOLDER = "{room}"
#: Statuses of an appointment whose video link is not given any more.
CLOSED = {AppointmentStatus.CANCELLED.value, AppointmentStatus.ENTERED_IN_ERROR.value}


def new_room_name() -> str:
    """192 random bits, URL-safe (32 characters)."""
    return secrets.token_urlsafe(24)


def is_telemedicine(session: Session, appointment_type_id: str | None) -> bool:
    kind = session.get(db.AppointmentType, appointment_type_id) if appointment_type_id else None
    return bool(kind and kind.telemedicine)


def open_video_room(uow: UnitOfWork, change: AppointmentBooked) -> None:
    """The handler: a room for a new appointment of a telemedicine type (the type read
    from the kept configuration: a booking reads no configuration table)."""
    if change.appointment_type_id is None:
        return
    kind = _config(uow, change.organization_id, change.clinic_id).appointment_type(
        change.appointment_type_id)
    if kind is None or not kind.telemedicine:
        return
    if uow.session.get(VideoRoom, (change.appointment_id, change.organization_id)) is None:
        uow.session.add(VideoRoom(appointment_id=change.appointment_id,
                                  organization_id=change.organization_id,
                                  room=new_room_name(), created_at=change_time(uow)))


def _config(uow: UnitOfWork, org: str, clinic_id: str) -> Config:
    """:func:`kept_config`; a sync push run asks it once per clinic, not once per booking
    (a push run writes no configuration unless ``config_written`` says so)."""
    if not uow.batch or uow.config_written:
        return kept_config(uow.session, org, clinic_id, ())
    key = ("config", org, clinic_id)
    found: Config | None = uow.known.get(key)
    if found is None:
        found = uow.known[key] = kept_config(uow.session, org, clinic_id, ())
    return found


def video_url(session: Session, organization_id: str, appointment_id: str) -> str | None:
    """The appointment's video link; ``None`` when it is not a telemedicine visit, is
    cancelled (or entered in error, or deleted), or no link is configured."""
    row = db.get_in_org(session, db.Appointment, organization_id, appointment_id)
    if row is None:
        return None
    return video_urls(session, row.organization_id, [row]).get(row.id)


def video_urls(session: Session, organization_id: str, rows: Iterable[Any]) -> dict[str, str]:
    """The video links of ``rows`` (appointments, or rows with ``id``, ``provider_id``,
    ``appointment_type_id``, ``status`` and ``deleted``) that have one, by id: a room, a
    type that is (still) a telemedicine type and a configured link. A few queries in
    all, for feeds and lists."""
    wanted = {row.id: row for row in rows
              if row.status not in CLOSED and not getattr(row, "deleted", False)}
    if not wanted:
        return {}
    found: dict[str, str] = {}
    ids = list(wanted)
    rooms: dict[str, str] = {}
    for index in range(0, len(ids), 900):
        rooms.update((row.appointment_id, row.room) for row in session.execute(
            select(VideoRoom.appointment_id, VideoRoom.room).where(
                VideoRoom.organization_id == organization_id,
                VideoRoom.appointment_id.in_(ids[index:index + 900]))))
    if not rooms:
        return {}
    video_types = set(session.scalars(select(db.AppointmentType.id).where(
        db.AppointmentType.organization_id == organization_id,
        db.AppointmentType.telemedicine.is_(True))))
    links = {row.provider_id: row.url for row in session.execute(
        select(ProviderVideoLink.provider_id, ProviderVideoLink.url)
        .where(ProviderVideoLink.organization_id == organization_id))}
    settings = session.get(TelemedicineSettings, organization_id)
    template = settings.url_template if settings else ""
    for appointment_id, room in rooms.items():
        row = wanted[appointment_id]
        if row.appointment_type_id not in video_types:
            continue  # the type is no longer a video visit type
        link = links.get(row.provider_id)
        if link:
            found[appointment_id] = link
        elif ROOM_PLACEHOLDER in template:
            found[appointment_id] = template.replace(ROOM_PLACEHOLDER, room)
    return found
