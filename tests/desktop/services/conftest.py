"""Fixtures for desk services: a real SQLCipher store seeded with a small clinic."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from desktop.services.context import DeskContext
from desktop.services.session import ServerIdentity, SessionSettings, SignInService
from desktop.store.engine import Store
from desktop.store.keys import create_store
from desktop.store.models import (
    AppointmentTypeRow,
    ClinicRow,
    PatientRow,
    ResourceRow,
    WeeklyScheduleRow,
)
from scheduling.commands import Permission
from tests.desktop.store.conftest import FAST_KDF, PASSPHRASE, MemoryKeyring

ORG = "org-1"
CLINIC = "clinic-madrid"
TZ = "Europe/Madrid"
DR_RUIZ = "prov-ruiz"
DR_LOPEZ = "prov-lopez"
ROOM = "room-1"
ROOM_2 = "room-2"
CHECKUP = "type-checkup"  # 30 minutes, either room
ANA, BEN, CARLA = "pat-ana", "pat-ben", "pat-carla"
EMAIL = "desk@clinic.example"
PASSWORD = "s3cret-desk-pass"
USER_ID = "user-desk"
ALL_PERMISSIONS = frozenset(p.value for p in Permission) | {"patient:view", "patient:edit",
                                                            "admin:config"}
#: Monday 2025-03-03 08:00 in Madrid.
MONDAY_8 = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
#: Tuesday 2025-03-04 09:00 in Madrid.
TUESDAY_9 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def server_accepting(
    permissions: frozenset[str] = ALL_PERMISSIONS, user_id: str = USER_ID
) -> Callable[[str, str, str | None], ServerIdentity | None]:
    """A stand-in for the sync client's password check: accepts :data:`PASSWORD` only."""

    def check(email: str, password: str, totp: str | None) -> ServerIdentity | None:
        if password != PASSWORD:
            return None
        return ServerIdentity(user_id, ORG, "Front Desk", ("receptionist",), permissions)

    return check


def seed(store: Store) -> None:
    with store.write() as session:
        session.add(ClinicRow(id=CLINIC, organization_id=ORG, name="Madrid", time_zone=TZ,
                              locale="es_ES"))
        for provider_id, name in ((DR_RUIZ, "Dr Ruiz"), (DR_LOPEZ, "Dr López")):
            session.add(ResourceRow(id=provider_id, organization_id=ORG, kind="provider",
                                    name=name, clinic_ids=[CLINIC]))
            for weekday in range(5):
                session.add(WeeklyScheduleRow(
                    id=f"{provider_id}-{weekday}", provider_id=provider_id, clinic_id=CLINIC,
                    weekday=weekday, start=time(9), end=time(17),
                    breaks=[["13:00:00", "14:00:00"]],
                ))
        for room_id, name in ((ROOM, "Room 1"), (ROOM_2, "Room 2")):
            session.add(ResourceRow(id=room_id, organization_id=ORG, kind="room", name=name,
                                    clinic_ids=[CLINIC]))
        session.add(AppointmentTypeRow(
            id=CHECKUP, organization_id=ORG, name="Check-up", default_duration_seconds=1800,
            min_duration_seconds=900, max_duration_seconds=3600,
            requirement={"providers": [], "rooms": [ROOM, ROOM_2], "equipment": []},
            color="#22aa66",
            cancellation_period_seconds=0,
        ))
        for patient_id, given, family, phone in (
            (ANA, "Ana", "García", "+34 600 111 222"),
            (BEN, "Ben", "Smith", "+44 7700 900123"),
            (CARLA, "Carla", "Núñez", "+34 600 333 444"),
        ):
            session.add(PatientRow(id=patient_id, organization_id=ORG, given_name=given,
                                   family_name=family, phone=phone))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = create_store(tmp_path / "desk" / "desk.db", PASSPHRASE,
                          keyring_backend=MemoryKeyring(), kdf=FAST_KDF)
    seed(opened)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_8)


@pytest.fixture
def sessions(store: Store, clock: FakeClock) -> SignInService:
    return SignInService(store, clock, SessionSettings(), hasher=FAST_HASHER,
                         device_id="device-1")


@pytest.fixture
def ctx(store: Store, clock: FakeClock, sessions: SignInService) -> DeskContext:
    """A desk with the front-desk user signed in online, ids ``id-1``, ``id-2`` …"""
    result = sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting())
    assert result.ok
    counter = iter(range(1, 1_000_000))
    return DeskContext(store, sessions, clock, new_id=lambda: f"id-{next(counter)}")



def edit_checkup(ctx: DeskContext, **values: object) -> None:
    """Set columns of the check-up type in the desk store (e.g. its cancellation period
    or its names per language)."""
    with ctx.store.write() as session:
        kind = session.get(AppointmentTypeRow, CHECKUP)
        assert kind is not None
        for name, value in values.items():
            setattr(kind, name, value)
