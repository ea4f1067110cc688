"""A real sync server (uvicorn on a loopback port, SQLite) and a real desk enrolled on it,
for the desk's notification screens.

The desk is a SQLCipher store filled by its first pull, signed in online, and calls the
notifications API exactly as the application does (:func:`signed_in_call`:
device token and the signed-in user). Staff alerts are written into the server's own
tables through its notifications code, as the worker writes them when every channel failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from desktop.config import DeskConfig
from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.services.notifications import NotificationsService
from desktop.services.server_call import signed_in_call
from desktop.services.session import SessionSettings, SignInService
from desktop.store.engine import Store
from desktop.store.keys import create_store
from desktop.sync.client import RetryPolicy, SyncClient
from scheduling import model
from scheduling.wire import to_wire
from sync_server.core.security import Passwords, password_hasher
from sync_server.db import models as db
from sync_server.db.migrate import upgrade
from sync_server.db.session import make_engine, make_session_factory
from sync_server.notifications.models import Notification, NotificationException
from sync_server.services import accounts, changes
from tests.desktop.services.conftest import FAST_HASHER
from tests.desktop.store.conftest import FAST_KDF, PASSPHRASE, MemoryKeyring
from tests.e2e.server_side import PASSWORD, Clinic, ServerThread, seed_clinic
from tests.support.records import by_id
from tests.sync_server.conftest import make_settings

#: The phone the first patient has on the server (and so on the desk after its pull).
PHONE = "+34 600 111 222"
#: Names of a Madrid clinic's records for the docs' screenshots (the tests keep the
#: seeded "Given0 Family0"): patients, providers, rooms, and the appointment type.
SCREENSHOT_PATIENTS = (("María", "García López"), ("Javier", "Ortega Ruiz"),
                       ("Lucía", "Fernández Gil"), ("Antonio", "Moreno Díaz"),
                       ("Carmen", "Jiménez Soto"), ("David", "Romero Vidal"),
                       ("Isabel", "Torres Castro"), ("Manuel", "Ramos Herrera"))
SCREENSHOT_PROVIDERS = ("Dra. Elena Navarro", "Dr. Pablo Serrano")
SCREENSHOT_ROOMS = ("Consulta 1", "Consulta 2")
SCREENSHOT_TYPE = "Revisión"


@dataclass
class LiveNotifications:
    """The running server, its database, and one desk signed in as ``email``."""

    server: ServerThread
    database: sessionmaker[Session]
    clinic: Clinic
    admin_email: str
    viewer_email: str  # sees the calendar, may not change appointments
    store: Store
    client: SyncClient
    ctx: DeskContext
    service: NotificationsService

    def sign_in(self, email: str) -> None:
        """Sign ``email`` in on the desk (the service then speaks for them)."""
        assert self.ctx.sessions.sign_in_online(
            email, PASSWORD, None,
            lambda e, p, t: self.client.check_credentials(self.clinic.org_slug, e, p, t)).ok

    def book(self, slot: int, patient: int = 0) -> str:
        """Book the clinic's ``slot``-th free slot on the desk and send it; returns its id."""
        provider, start = self.clinic.slot(slot)
        result = booking.book(self.ctx, clinic_id=self.clinic.clinic_id,
                              patient_id=self.clinic.patient_ids[patient],
                              appointment_type_id=self.clinic.type_id, provider_id=provider,
                              start=start)
        assert result.ok, result.refusal
        self.client.sync_once()
        return result.appointments[0].id

    def give_names(self) -> None:
        """Rename the seeded records as an administrator would (the server's API), then
        pull the changes on the desk: the screenshots show a clinic, not test data."""
        clinic = self.clinic
        api = f"{self.server.url}/api/v1"
        login = requests.post(f"{api}/auth/login", timeout=30, json={
            "organization": clinic.org_slug, "email": self.admin_email, "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        renames = [(f"patients/{patient_id}", {"given_name": given, "family_name": family})
                   for patient_id, (given, family) in zip(clinic.patient_ids,
                                                          SCREENSHOT_PATIENTS, strict=False)]
        renames += [(f"admin/resources/{resource_id}", {"name": name}) for resource_id, name in
                    zip(clinic.provider_ids + clinic.room_ids,
                        SCREENSHOT_PROVIDERS + SCREENSHOT_ROOMS, strict=True)]
        renames.append((f"admin/appointment-types/{clinic.type_id}", {"name": SCREENSHOT_TYPE}))
        for path, body in renames:
            requests.patch(f"{api}/{path}", json=body, headers=headers,
                           timeout=30).raise_for_status()
        self.client.sync_once()

    def forget_alerts(self) -> None:
        """Resolve every open alert on the server (tests sharing the server start clean)."""
        with self.database() as session:
            for row in session.scalars(select(NotificationException).where(
                    NotificationException.resolved_at.is_(None))):
                row.resolved_at = datetime.now(UTC)
            session.commit()


def _give_phone(session: Session, clinic: Clinic, patient_id: str) -> None:
    """The patient's phone on the server, recorded as a change the desk pulls."""
    row = by_id(session, db.Patient, patient_id)
    assert row is not None
    row.phone = PHONE
    patient = model.Patient(row.id, clinic.org_id, row.given_name, row.family_name, True,
                            PHONE)
    version = changes.bump_version(session, clinic.org_id)
    changes.record_change(session, clinic.org_id, version, "patient", row.id, "upsert",
                          to_wire(patient))


@contextmanager
def live_notifications(folder: Path, patients: int = 3) -> Iterator[LiveNotifications]:
    database = f"sqlite:///{folder / 'server.db'}"
    upgrade(database)
    # Every test of a module signs in again: more than the default ten a minute.
    settings = make_settings(database, folder, login_per_account_per_minute=100)
    engine = make_engine(database)
    factory = make_session_factory(engine)
    with factory() as session:
        clinic = seed_clinic(session, settings, patients=patients)
        admin = f"admin-{uuid.uuid4().hex[:6]}@clinic.example"
        viewer = f"viewer-{uuid.uuid4().hex[:6]}@clinic.example"
        for email, role in ((admin, "administrator"), (viewer, "viewer")):
            accounts.create_user(session, Passwords(password_hasher(settings)), clinic.org_id,
                                 email, PASSWORD, [role], datetime.now(UTC))
        # "Given0 Family0" has a phone; the others have none.
        _give_phone(session, clinic, clinic.patient_ids[0])
        session.commit()
    server = ServerThread(settings)
    server.start()
    store = create_store(folder / "desk" / "desk.db", PASSPHRASE,
                         keyring_backend=(keys := MemoryKeyring()), kdf=FAST_KDF)
    try:
        client = SyncClient(store, DeskConfig(data_dir=folder / "desk"), requests.Session(),
                            keyring_backend=keys,
                            retry=RetryPolicy(attempts=1, base_seconds=0.0, cap_seconds=0.0))
        client.enroll(server.url, clinic.codes[0])
        sessions = SignInService(store, lambda: datetime.now(UTC), SessionSettings(),
                                 hasher=FAST_HASHER, device_id="notifications-desk")
        ctx = DeskContext(store, sessions, lambda: datetime.now(UTC))
        live = LiveNotifications(server, factory, clinic, admin, viewer, store, client, ctx,
                                 NotificationsService(signed_in_call(client, sessions)))
        live.sign_in(admin)
        yield live
    finally:
        server.stop()
        store.close()
        engine.dispose()


def raise_alert(live: LiveNotifications, appointment_id: str, *, patient: int,
                reason: str = "invalid_phone", kind: str = "reminder") -> str:
    """A staff alert as the worker writes it when every channel failed; returns its id."""
    with live.database() as session:
        appointment = by_id(session, db.Appointment, appointment_id)
        assert appointment is not None
        now = datetime.now(UTC)
        alert = NotificationException(
            id=str(uuid.uuid4()), organization_id=live.clinic.org_id,
            notification_id=str(uuid.uuid4()), appointment_id=appointment_id,
            patient_id=live.clinic.patient_ids[patient],
            appointment_start=appointment.start_at, kind=kind, reason=reason,
            channels_tried=["sms", "email"], created_at=now)
        session.add(alert)
        session.commit()
        return alert.id


def resolved_on_server(live: LiveNotifications, alert_id: str) -> str | None:
    """The resolution note the server keeps (None: still open)."""
    with live.database() as session:
        row = session.get(NotificationException, alert_id)
        assert row is not None
        return None if row.resolved_at is None else row.resolution_note or ""


def add_history(live: LiveNotifications, appointment_id: str,
                rows: list[dict[str, object]]) -> None:
    """Outbox rows of ``appointment_id`` as the handler and the worker leave them."""
    with live.database() as session:
        appointment = by_id(session, db.Appointment, appointment_id)
        assert appointment is not None
        now = datetime.now(UTC)
        for values in rows:
            due = values.pop("due_at", now)
            session.add(Notification(**{
                "id": str(uuid.uuid4()), "organization_id": live.clinic.org_id,
                "clinic_id": live.clinic.clinic_id, "appointment_id": appointment_id,
                "patient_id": appointment.patient_id, "occurrence_start": appointment.start_at,
                "offset_minutes": 0, "recipient": appointment.patient_id, "due_at": due,
                "next_attempt_at": due, "created_at": now, "updated_at": now, **values}))
        session.commit()
