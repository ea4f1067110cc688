"""The demo organization: a deterministic recipe of domain records.

Two clinics in different time zones, eight providers, six rooms (one of them
a restricted procedure room), equipment, 500 patients with English and
Spanish names, four weeks of appointments in every status (booked through
the rules engine, so the calendar is one the rules accept), two recurring
series and a waitlist. Pure: the server's ``seed-demo`` and the desk both
store these records their own way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from scheduling.commands import Accepted, Actor, BookAppointment, Outcome, Permission, Policy
from scheduling.model import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    AppointmentType,
    Blockout,
    Break,
    Clinic,
    Holiday,
    Organization,
    Patient,
    Resource,
    ResourceKind,
    ResourceRequirement,
    Restriction,
    Series,
    StatusChange,
    WaitlistEntry,
    WeeklySchedule,
)
from scheduling.recurrence import weekly_for_weeks
from scheduling.rules import check
from scheduling.series import book_series
from scheduling.state import CalendarState
from scheduling.timeutil import local_date, to_utc

ORGANIZATION_ID = "demo-org"
NEW_YORK, MADRID = "clinic-riverside", "clinic-retiro"

_GIVEN_EN = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
             "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
             "Thomas", "Sarah", "Charles", "Karen", "Emily", "Daniel", "Olivia", "Noah"]
_FAMILY_EN = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
              "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson",
              "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King"]
_GIVEN_ES = ["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo", "María", "Daniel", "Julia",
             "Alejandro", "Paula", "Pablo", "Valeria", "Álvaro", "Carmen", "Javier", "Elena",
             "Manuel", "Irene", "Adrián", "Nuria", "Sergio", "Ana", "Jorge"]
_FAMILY_ES = ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez",
              "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
              "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres",
              "Domínguez", "Vázquez"]


@dataclass
class DemoData:
    """Every record of the demo organization, in dependency order."""

    organization: Organization
    clinics: list[Clinic]
    resources: list[Resource]
    appointment_types: list[AppointmentType]
    schedules: list[WeeklySchedule]
    holidays: list[Holiday]
    blockouts: list[Blockout]
    patients: list[Patient]
    series: list[Series] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    waitlist: list[WaitlistEntry] = field(default_factory=list)

    def state(self) -> CalendarState:
        return CalendarState.build(
            self.organization.id, clinics=self.clinics, resources=self.resources,
            appointment_types=self.appointment_types, schedules=self.schedules,
            holidays=self.holidays, blockouts=self.blockouts, patients=self.patients,
            appointments=self.appointments, waitlist=self.waitlist,
        )


def build_demo(today: date, *, seed: int = 7, patients: int = 500, weeks: int = 4) -> DemoData:
    """The demo organization with appointments from two weeks before ``today`` to
    ``weeks`` weeks after its Monday (past ones completed, no-show or cancelled)."""
    rng = random.Random(seed)
    org = Organization(ORGANIZATION_ID, "Demo Health Group")
    clinics = [
        Clinic(NEW_YORK, org.id, "Riverside Family Clinic", "America/New_York", "en_US"),
        Clinic(MADRID, org.id, "Clínica Retiro", "Europe/Madrid", "es_ES"),
    ]
    provider_names = {
        NEW_YORK: ["Dr Sarah Chen", "Dr Marcus Webb", "Dr Aisha Okafor", "Dr Tom Lindqvist"],
        MADRID: ["Dra. Lucía Navarro", "Dr. Javier Ortega", "Dra. Elena Castillo",
                 "Dr. Pablo Serrano"],
    }
    providers = [
        Resource(f"prov-{i}", org.id, ResourceKind.PROVIDER, name, frozenset({clinic}))
        for i, (clinic, name) in enumerate(
            (c, n) for c, names in provider_names.items() for n in names
        )
    ]
    rooms = [
        Resource("room-ny-1", org.id, ResourceKind.ROOM, "Exam 1", frozenset({NEW_YORK})),
        Resource("room-ny-2", org.id, ResourceKind.ROOM, "Exam 2", frozenset({NEW_YORK})),
        Resource("room-ny-proc", org.id, ResourceKind.ROOM, "Procedure room",
                 frozenset({NEW_YORK}),
                 restriction=Restriction(requires_approval=True, min_lead_time=timedelta(days=1))),
        Resource("room-md-1", org.id, ResourceKind.ROOM, "Consulta 1", frozenset({MADRID})),
        Resource("room-md-2", org.id, ResourceKind.ROOM, "Consulta 2", frozenset({MADRID})),
        Resource("room-md-gym", org.id, ResourceKind.ROOM, "Sala de fisioterapia",
                 frozenset({MADRID})),
    ]
    equipment = [
        Resource("eq-ecg", org.id, ResourceKind.EQUIPMENT, "ECG unit", frozenset({NEW_YORK})),
        Resource("eq-us", org.id, ResourceKind.EQUIPMENT, "Ecógrafo", frozenset({MADRID})),
    ]
    ny_rooms = frozenset({"room-ny-1", "room-ny-2"})
    types = [
        AppointmentType("type-consult", org.id, "Consultation", minutes(30), minutes(15),
                        minutes(60), color="#4a90d9", names=(("es", "Consulta"),),
                        online_bookable=True,
                        cancellation_period=timedelta(hours=24)),
        AppointmentType("type-new", org.id, "New patient", minutes(45), minutes(30), minutes(90),
                        buffer_after=minutes(10), color="#7b61ff",
                        names=(("es", "Paciente nuevo"),),
                        requirement=ResourceRequirement(rooms=ny_rooms | {"room-md-1",
                                                                          "room-md-2"})),
        AppointmentType("type-ecg", org.id, "ECG", minutes(20), minutes(15), minutes(30),
                        color="#e67e22", names=(("es", "Electrocardiograma"),),
                        requirement=ResourceRequirement(equipment=(frozenset({"eq-ecg"}),))),
        AppointmentType("type-procedure", org.id, "Minor procedure", minutes(60), minutes(30),
                        minutes(120), buffer_after=minutes(15), color="#c0392b",
                        names=(("es", "Procedimiento menor"),),
                        requirement=ResourceRequirement(rooms=frozenset({"room-ny-proc"}))),
        AppointmentType("type-physio", org.id, "Physiotherapy", minutes(45), minutes(30),
                        minutes(60), color="#27ae60", reschedule_limit=3,
                        names=(("es", "Fisioterapia"),),
                        requirement=ResourceRequirement(rooms=frozenset({"room-md-gym"}))),
        AppointmentType("type-group", org.id, "Group back class", minutes(60), minutes(60),
                        minutes(60), capacity=6, color="#16a085",
                        names=(("es", "Clase de espalda en grupo"),),
                        requirement=ResourceRequirement(rooms=frozenset({"room-md-gym"}))),
        AppointmentType("type-video", org.id, "Video visit", minutes(20), minutes(10),
                        minutes(40), telemedicine=True, online_bookable=True, color="#8e44ad",
                        names=(("es", "Videoconsulta"),)),
    ]
    schedules = [
        WeeklySchedule(f"ws-{p.id}-{day}", p.id, next(iter(p.clinic_ids)), day,
                       time(8 if p.clinic_ids == {NEW_YORK} else 9),
                       time(17 if p.clinic_ids == {NEW_YORK} else 19),
                       (Break(time(12), time(13)) if p.clinic_ids == {NEW_YORK}
                        else Break(time(14), time(15)),))
        for p in providers
        for day in range(5)
    ]
    monday = today - timedelta(days=today.weekday())
    holidays = [Holiday("hol-md", MADRID, monday + timedelta(days=10), "Fiesta local")]
    blockouts = [Blockout("blk-ny-meeting", NEW_YORK,
                          to_utc(datetime.combine(monday + timedelta(days=2), time(8)),
                                 "America/New_York"),
                          to_utc(datetime.combine(monday + timedelta(days=2), time(9)),
                                 "America/New_York"), reason="Staff meeting")]
    people = []
    for index in range(patients):
        spanish = index % 2 == 1
        given = rng.choice(_GIVEN_ES if spanish else _GIVEN_EN)
        family = rng.choice(_FAMILY_ES if spanish else _FAMILY_EN)
        if spanish:
            family = f"{family} {rng.choice(_FAMILY_ES)}"
        phone = (f"+34 6{rng.randrange(10**7, 10**8)}" if spanish
                 else f"+1 212 555 {rng.randrange(1000, 9999)}")
        people.append(Patient(f"pat-{index:04d}", org.id, given, family, phone=phone,
                              preferred_language="es" if spanish else "en"))
    data = DemoData(org, clinics, providers + rooms + equipment, types, schedules, holidays,
                    blockouts, people)
    _book_calendar(data, rng, monday, weeks)
    return data


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


_STAFF = Actor("demo-seed", None, frozenset(p.value for p in Permission))
# A receptionist without approval rights: restricted-room bookings stay pending.
_DESK = Actor("demo-desk", None, frozenset(p.value for p in Permission) - {Permission.APPROVE})
_FAST = Policy(max_alternatives=0)


#: Types booked online in the demo, and types seen in an exam room though they do not
#: require one (the room columns show them; the rules leave their room free otherwise).
_ONLINE = frozenset({"type-consult", "type-video"})
_IN_EXAM_ROOM = frozenset({"type-consult", "type-ecg"})
_EXAM_ROOMS = {NEW_YORK: ("room-ny-1", "room-ny-2"), MADRID: ("room-md-1", "room-md-2")}


def _in_an_exam_room(command: BookAppointment, state: CalendarState,
                     now: datetime) -> Outcome:
    """``command`` in the first free exam room of its clinic, else without a room."""
    for room in _EXAM_ROOMS[command.clinic_id]:
        outcome = check(replace(command, room_id=room), state, now, _FAST)
        if isinstance(outcome, Accepted):
            return outcome
    return check(command, state, now, _FAST)


def _book_calendar(data: DemoData, rng: random.Random, monday: date, weeks: int) -> None:
    state = data.state()
    seed_now = to_utc(datetime.combine(monday - timedelta(days=14), time(0)), "UTC")
    first_day, last_day = monday - timedelta(days=14), monday + timedelta(weeks=weeks)
    today = monday  # appointments before this Monday are in the past
    by_clinic = {c.id: c for c in data.clinics}
    types_at = {
        NEW_YORK: ["type-consult", "type-consult", "type-new", "type-ecg", "type-video",
                   "type-procedure"],
        MADRID: ["type-consult", "type-consult", "type-physio", "type-new", "type-video"],
    }
    patients = [p.id for p in data.patients]
    counter = 0
    for provider in (r for r in data.resources if r.kind is ResourceKind.PROVIDER):
        clinic = by_clinic[next(iter(provider.clinic_ids))]
        day = first_day
        while day < last_day:
            for window in state.working_windows(provider.id, clinic.id, day):
                start = window.start
                while start < window.end:
                    if rng.random() < 0.3:  # leave gaps: a real day has holes
                        start += timedelta(minutes=rng.choice((15, 30)))
                        continue
                    counter += 1
                    kind = rng.choice(types_at[clinic.id])
                    actor = _DESK if kind == "type-procedure" else _STAFF
                    source = rng.choice(list(AppointmentSource))
                    if source is AppointmentSource.ONLINE and kind not in _ONLINE:
                        source = AppointmentSource.PHONE  # only online-bookable types are
                    command = BookAppointment(
                        actor, f"appt-{counter:05d}", clinic.id, rng.choice(patients), kind,
                        provider.id, start, source=source,
                    )
                    outcome = _in_an_exam_room(command, state, seed_now) \
                        if kind in _IN_EXAM_ROOM else check(command, state, seed_now, _FAST)
                    if isinstance(outcome, Accepted):
                        appointment = _age(outcome.appointment, today, clinic.time_zone, rng)
                        state.put_appointment(appointment)
                        data.appointments.append(appointment)
                        start = appointment.end
                    else:
                        start += timedelta(minutes=15)
            day += timedelta(days=1)
    _book_series(data, state, monday, seed_now)
    data.waitlist = [
        WaitlistEntry(f"wait-{i}", data.organization.id, NEW_YORK if i % 2 == 0 else MADRID,
                      rng.choice(patients), "type-consult",
                      seed_now + timedelta(hours=i), priority=rng.choice((0, 0, 1, 2)),
                      preferred_weekdays=frozenset(rng.sample(range(5), 2)),
                      note="")
        for i in range(12)
    ]


def _age(appointment: Appointment, today: date, tz: str, rng: random.Random) -> Appointment:
    """Give past appointments an outcome and some future ones a confirmation."""
    day = local_date(appointment.start, tz)
    if appointment.status is AppointmentStatus.PENDING and day >= today:
        return appointment  # awaiting approval
    if day < today:
        status = rng.choices(
            [AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED,
             AppointmentStatus.ENTERED_IN_ERROR],
            weights=(84, 7, 8, 1),
        )[0]
    elif day == today:
        status = rng.choice([AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED,
                             AppointmentStatus.ARRIVED, AppointmentStatus.READY,
                             AppointmentStatus.IN_PROGRESS])
    else:
        status = rng.choices([AppointmentStatus.BOOKED, AppointmentStatus.MESSAGE_LEFT,
                              AppointmentStatus.CONFIRMED], weights=(50, 10, 40))[0]
    if status is appointment.status:
        return appointment
    return replace(
        appointment, status=status,
        cancel_reason="Patient request" if status is AppointmentStatus.CANCELLED else None,
        last_status_change=StatusChange(appointment.status, appointment.start, "demo-seed"),
    )


def _book_series(data: DemoData, state: CalendarState, monday: date, now: datetime) -> None:
    physio = Series("series-physio", data.organization.id, MADRID, weekly_for_weeks([0, 2], 6),
                    datetime.combine(monday + timedelta(days=7), time(18)))
    template = BookAppointment(_STAFF, "series-physio", MADRID, "pat-0001", "type-physio",
                               "prov-6", to_utc(physio.first_local, "Europe/Madrid"))
    outcome = book_series(state, template, physio, now, _FAST)
    for appointment in outcome.accepted:
        state.put_appointment(appointment)
        data.appointments.append(appointment)
    data.series.append(physio)
