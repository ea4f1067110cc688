"""A small, realistic clinic calendar for rules and availability tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import count

from scheduling.commands import Actor, BookAppointment, Permission
from scheduling.model import (
    Appointment,
    AppointmentType,
    Break,
    Clinic,
    Patient,
    Resource,
    ResourceKind,
    ResourceRequirement,
    Restriction,
    WeeklySchedule,
)
from scheduling.state import CalendarState
from scheduling.timeutil import to_utc

ORG = "org-1"
CLINIC = "clinic-ny"
TZ = "America/New_York"
MONDAY = date(2026, 6, 1)  # a Monday, far from DST changes
NOW = datetime(2026, 5, 25, 12, 0, tzinfo=UTC)  # one week earlier

STAFF = Actor(
    "user-desk",
    "device-1",
    frozenset(
        p.value
        for p in (Permission.VIEW_CALENDAR, Permission.CREATE, Permission.MODIFY,
                  Permission.CANCEL, Permission.UNDO)
    ),
)
SUPERVISOR = Actor("user-boss", "device-1", frozenset(p.value for p in Permission))
VIEWER = Actor("user-view", None, frozenset({Permission.VIEW_CALENDAR.value}))

DR_ADAMS, DR_BAKER, DR_CRUZ = "dr-adams", "dr-baker", "dr-cruz"
ROOM_1, ROOM_2, SURGERY = "room-1", "room-2", "surgery"
XRAY = "xray"
CONSULT, GROUP, PROCEDURE, SURGERY_TYPE, XRAY_TYPE = (
    "consult", "group-therapy", "procedure", "minor-surgery", "x-ray",
)

_ids = count(1)


def wall(day: date, hour: int, minute: int = 0, tz: str = TZ) -> datetime:
    """The UTC instant of a local wall-clock time."""
    return to_utc(datetime.combine(day, time(hour, minute)), tz)


def new_id(prefix: str = "appt") -> str:
    return f"{prefix}-{next(_ids)}"


def clinic_state(tz: str = TZ, **overrides: object) -> CalendarState:
    """Three providers working Mon–Fri 09:00–17:00 with a 12:00–13:00 break."""
    clinic = Clinic(CLINIC, ORG, "Main Street Clinic", tz, "en_US")
    providers = [
        Resource(DR_ADAMS, ORG, ResourceKind.PROVIDER, "Dr Adams", frozenset({CLINIC})),
        Resource(DR_BAKER, ORG, ResourceKind.PROVIDER, "Dr Baker", frozenset({CLINIC})),
        Resource(DR_CRUZ, ORG, ResourceKind.PROVIDER, "Dr Cruz", frozenset({CLINIC})),
    ]
    rooms = [
        Resource(ROOM_1, ORG, ResourceKind.ROOM, "Room 1", frozenset({CLINIC})),
        Resource(ROOM_2, ORG, ResourceKind.ROOM, "Room 2", frozenset({CLINIC})),
        Resource(SURGERY, ORG, ResourceKind.ROOM, "Surgery", frozenset({CLINIC}),
                 restriction=Restriction(requires_approval=True,
                                         min_lead_time=timedelta(hours=48))),
        Resource(XRAY, ORG, ResourceKind.EQUIPMENT, "X-ray unit", frozenset({CLINIC})),
    ]
    minutes = lambda n: timedelta(minutes=n)  # noqa: E731
    types = [
        AppointmentType(CONSULT, ORG, "Consultation", minutes(30), minutes(15), minutes(60),
                        cancellation_period=timedelta(hours=24), reschedule_limit=3),
        AppointmentType(GROUP, ORG, "Group therapy", minutes(60), minutes(60), minutes(60),
                        capacity=3),
        AppointmentType(PROCEDURE, ORG, "Procedure", minutes(45), minutes(30), minutes(90),
                        buffer_after=minutes(15),
                        requirement=ResourceRequirement(rooms=frozenset({ROOM_1, ROOM_2}))),
        AppointmentType(SURGERY_TYPE, ORG, "Minor surgery", minutes(60), minutes(30),
                        minutes(120),
                        requirement=ResourceRequirement(providers=frozenset({DR_CRUZ}),
                                                        rooms=frozenset({SURGERY}))),
        AppointmentType(XRAY_TYPE, ORG, "X-ray", minutes(15), minutes(15), minutes(30),
                        requirement=ResourceRequirement(equipment=(frozenset({XRAY}),))),
    ]
    schedules = [
        WeeklySchedule(f"ws-{p.id}-{weekday}", p.id, CLINIC, weekday, time(9), time(17),
                       (Break(time(12), time(13)),))
        for p in providers
        for weekday in range(5)
    ]
    patients = [Patient(f"pat-{i}", ORG, f"Given{i}", f"Family{i}") for i in range(1, 21)]
    patients.append(Patient("pat-inactive", ORG, "Old", "Record", active=False))
    arguments: dict[str, object] = {
        "clinics": [clinic], "resources": providers + rooms, "appointment_types": types,
        "schedules": schedules, "patients": patients,
    }
    arguments.update(overrides)
    return CalendarState.build(ORG, **arguments)  # type: ignore[arg-type]


def book(
    provider: str = DR_ADAMS,
    start: datetime | None = None,
    *,
    patient: str = "pat-1",
    kind: str = CONSULT,
    end: datetime | None = None,
    actor: Actor = STAFF,
    **extra: object,
) -> BookAppointment:
    return BookAppointment(
        actor=actor,
        appointment_id=new_id(),
        clinic_id=CLINIC,
        patient_id=patient,
        appointment_type_id=kind,
        provider_id=provider,
        start=start or wall(MONDAY, 10),
        end=end,
        **extra,  # type: ignore[arg-type]
    )


def existing(
    provider: str = DR_ADAMS,
    start: datetime | None = None,
    minutes: int = 30,
    *,
    patient: str = "pat-2",
    kind: str = CONSULT,
    room: str | None = None,
    **extra: object,
) -> Appointment:
    begin = start or wall(MONDAY, 10)
    return Appointment(
        id=new_id("existing"), organization_id=ORG, clinic_id=CLINIC, patient_id=patient,
        appointment_type_id=kind, provider_id=provider, start=begin,
        end=begin + timedelta(minutes=minutes), room_id=room, **extra,  # type: ignore[arg-type]
    )
