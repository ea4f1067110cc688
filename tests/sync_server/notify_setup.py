"""A clinic with notifications switched on, booked through the real booking service, and
a worker sending to the real local SMTP server and SMS gateway (tests/support)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduling.commands import Actor, BookAppointment, CancelAppointment, MoveAppointment
from sync_server.core.config import Settings
from sync_server.db import models as db
from sync_server.db.session import make_engine, make_session_factory
from sync_server.notifications.links import LinkKey
from sync_server.notifications.models import Notification
from sync_server.notifications.service import settings_row
from sync_server.notifications.worker import Worker
from sync_server.services import audit, booking
from tests.e2e.server_side import Clinic, seed_clinic
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.support.records import by_id

STAFF = Actor("staff-user", None, frozenset({
    "booking:create_appointment", "booking:modify_appointment",
    "booking:cancel_appointment", "booking:view_calendar"}))
LINK_SECRET = b"test-signing-key-not-for-production"


@dataclass
class NotifyClinic:
    clinic: Clinic
    tz: str
    sessions: sessionmaker[Session]

    @property
    def org_id(self) -> str:
        return self.clinic.org_id

    def local(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, clock_time(hour, minute), ZoneInfo(self.tz)).astimezone(UTC)

    def book(self, start: datetime, now: datetime, *, patient: int = 0,
             provider: int = 0) -> str:
        appointment_id = str(uuid.uuid4())
        with self.sessions() as session:
            result = booking.book(session, self._caller(), BookAppointment(
                STAFF, appointment_id, self.clinic.clinic_id, self.clinic.patient_ids[patient],
                self.clinic.type_id, self.clinic.provider_ids[provider], start), now)
            assert result.refused is None, result.refused
            session.commit()
        return appointment_id

    def move(self, appointment_id: str, start: datetime, now: datetime) -> None:
        with self.sessions() as session:
            result = booking.change(session, self._caller(),
                                    MoveAppointment(STAFF, appointment_id, start), now)
            assert result.refused is None, result.refused
            session.commit()

    def cancel(self, appointment_id: str, now: datetime) -> None:
        with self.sessions() as session:
            result = booking.change(session, self._caller(),
                                    CancelAppointment(STAFF, appointment_id, "patient called"),
                                    now)
            assert result.refused is None, result.refused
            session.commit()

    def _caller(self) -> booking.Caller:
        return booking.Caller(self.org_id, STAFF, audit.Actor(None, None))

    def rows(self, appointment_id: str | None = None) -> list[Notification]:
        with self.sessions() as session:
            query = select(Notification).where(Notification.organization_id == self.org_id)
            if appointment_id:
                query = query.where(Notification.appointment_id == appointment_id)
            found = list(session.scalars(query.order_by(Notification.due_at,
                                                        Notification.created_at)))
            session.expunge_all()
            session.rollback()
        return found

    def patient(self, index: int = 0, **values: object) -> None:
        with self.sessions() as session:
            row = by_id(session, db.Patient, self.clinic.patient_ids[index])
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            session.commit()

    def configure(self, now: datetime, **values: object) -> None:
        with self.sessions() as session:
            row = settings_row(session, self.org_id, now)
            for name, value in values.items():
                setattr(row, name, value)
            session.commit()

    def worker(self, clock: Callable[[], datetime], **options: object) -> Worker:
        return Worker(self.sessions, LinkKey(LINK_SECRET), clock=clock,
                      public_url="http://testserver", organization_id=self.org_id,
                      **options)  # type: ignore[arg-type]


def notify_clinic(database_url: str, settings: Settings, smtp: SmtpSink,
                  gateway: SmsGateway, now: datetime, *, tz: str = "Europe/Madrid",
                  patients: int = 4) -> NotifyClinic:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        clinic = seed_clinic(session, settings, tz=tz, patients=patients)
    setup = NotifyClinic(clinic, tz, sessions)
    setup.configure(
        now, email_enabled=True, smtp_host="127.0.0.1", smtp_port=smtp.port,
        smtp_starttls=False, email_sender="clinic@clinic.example", sms_enabled=True,
        sms_gateway_url=gateway.url, sms_account_id=gateway.account, sms_api_key=gateway.key,
        sms_sender="+34911000000", clinic_phone="+34 910 000 000",
        public_base_url="http://testserver")
    for index in range(patients):
        setup.patient(index, email=f"patient{index}@example.org",
                      phone=f"+34 600 000 {index:03d}")
    return setup
