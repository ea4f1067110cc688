"""``seed-demo`` loads the demo organization, consistent with the double-booking guard."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.db import models as db_models
from sync_server.services.demo import seed_demo
from tests.sync_server.conftest import START

OVERLAPS = text(
    "SELECT count(*) FROM appointment_resources a JOIN appointment_resources b "
    "ON a.resource_id = b.resource_id AND a.id < b.id "
    "AND a.block_start < b.block_end AND b.block_start < a.block_end "
    "WHERE a.active AND b.active AND NOT a.group_member AND NOT b.group_member"
)


def test_the_demo_is_loaded_without_overlaps_and_is_fully_in_the_change_log(
    db: Session, settings: Settings
) -> None:
    seeded = seed_demo(db, Passwords(password_hasher(settings)), START,
                       today=date(2026, 3, 2))
    appointments = db.scalar(select(func.count()).select_from(db_models.Appointment).where(
        db_models.Appointment.organization_id == seeded.organization_id))
    assert appointments == seeded.appointments > 1000
    assert db.scalar(OVERLAPS) == 0
    logged = set(db.scalars(select(db_models.ChangeLogEntry.entity).where(
        db_models.ChangeLogEntry.organization_id == seeded.organization_id)))
    assert {"clinic", "resource", "appointment_type", "patient", "appointment", "series",
            "waitlist_entry"} <= logged
    assert len(seeded.enrollment_codes) == 2
