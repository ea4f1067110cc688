"""Many due reminders at once, written straight into the tables (the worker's tests and the
bench need thousands; booking them one by one would measure the booking path)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert

from sync_server.db import models as db
from sync_server.notifications.models import Notification
from tests.sync_server.notify_setup import NotifyClinic


def due_reminders(clinic: NotifyClinic, count: int, now: datetime,
                  start: datetime | None = None, channel: str = "email",
                  spread: timedelta = timedelta(0)) -> list[str]:
    """``count`` appointments a day after ``now`` with a reminder each, due at ``now`` (or
    evenly over ``spread`` from ``now``)."""
    start = start or now + timedelta(days=1) + spread
    ids = [str(uuid.uuid4()) for _ in range(count)]
    org, c = clinic.org_id, clinic.clinic
    appointments = [{
        "id": appointment_id, "organization_id": org, "clinic_id": c.clinic_id,
        "patient_id": c.patient_ids[index % len(c.patient_ids)],
        "appointment_type_id": c.type_id, "provider_id": c.provider_ids[0], "room_id": None,
        "equipment_ids": [], "start_at": start, "end_at": start + timedelta(minutes=30),
        "block_start": start, "block_end": start + timedelta(minutes=30), "status": "booked",
        "source": "staff", "notes": "", "patient_notes": "", "deleted": False, "active": True,
        "overridden": False, "version": 1, "reschedule_count": 0, "created_at": now,
        "updated_at": now} for index, appointment_id in enumerate(ids)]
    rows = [{
        "id": notification_id, "organization_id": org, "clinic_id": c.clinic_id,
        "appointment_id": appointment["id"], "patient_id": appointment["patient_id"],
        "occurrence_start": start, "kind": "reminder", "offset_minutes": 1440,
        "recipient": appointment["patient_id"], "channel": channel, "state": "pending",
        "due_at": due, "next_attempt_at": due, "attempts": 0, "created_at": now,
        "updated_at": now}
        for index, (appointment, notification_id) in enumerate(zip(appointments, ids,
                                                                   strict=True))
        for due in (now + spread * index / count,)]
    with clinic.sessions() as session:
        for first in range(0, count, 2000):
            session.execute(insert(db.Appointment), appointments[first:first + 2000])
            session.execute(insert(Notification), rows[first:first + 2000])
        session.commit()
    return ids
