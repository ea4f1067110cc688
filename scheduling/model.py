"""The scheduling domain's records: plain frozen dataclasses and enums.

Identifiers are opaque strings (UUIDs in practice). Instants are aware UTC
datetimes; weekly schedules are in the clinic's local wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from scheduling.errors import InvalidIntervalError, SchedulingInputError
from scheduling.timeutil import Interval, require_aware, zone

# --------------------------------------------------------------------------- tenancy


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Clinic:
    """A location. ``time_zone`` is an IANA name; ``locale`` a CLDR locale such as ``es_ES``."""

    id: str
    organization_id: str
    name: str
    time_zone: str
    locale: str = "en_US"

    def __post_init__(self) -> None:
        zone(self.time_zone)  # raises UnknownTimeZoneError early


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    organization_id: str
    clinic_id: str
    name: str


# --------------------------------------------------------------------------- resources


class ResourceKind(StrEnum):
    PROVIDER = "provider"
    ROOM = "room"
    EQUIPMENT = "equipment"


@dataclass(frozen=True, slots=True)
class Restriction:
    """A restricted resource: bookings need approval and at least ``min_lead_time`` notice."""

    requires_approval: bool = True
    min_lead_time: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Resource:
    """A provider (practitioner), a room/chair or a piece of equipment.

    A provider's ``clinic_ids`` are its clinic assignments; a room or piece of
    equipment belongs to one clinic (a one-element set).
    """

    id: str
    organization_id: str
    kind: ResourceKind
    name: str
    clinic_ids: frozenset[str]
    department_id: str | None = None
    active: bool = True
    restriction: Restriction | None = None
    #: A provider's colour in the agenda (``#rrggbb``; empty: the agenda's own).
    color: str = ""


@dataclass(frozen=True, slots=True)
class Outage:
    """A period where a resource is unavailable (maintenance, breakdown, sick leave)."""

    id: str
    resource_id: str
    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        _check_range(self, "start", "end")


# --------------------------------------------------------------------------- appointment types


@dataclass(frozen=True, slots=True)
class ResourceRequirement:
    """Which resources an appointment type needs.

    ``providers``: the qualified providers (empty = any provider assigned to the clinic).
    ``rooms``: the rooms/chairs that fit (empty = no room needed).
    ``equipment``: groups of interchangeable equipment; one item of each group is needed.
    """

    providers: frozenset[str] = frozenset()
    rooms: frozenset[str] = frozenset()
    equipment: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True, slots=True)
class AppointmentType:
    id: str
    organization_id: str
    name: str
    default_duration: timedelta
    min_duration: timedelta
    max_duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    requirement: ResourceRequirement = ResourceRequirement()
    capacity: int = 1
    online_bookable: bool = False
    telemedicine: bool = False
    min_notice: timedelta = timedelta(0)
    max_days_ahead: int | None = None
    cancellation_period: timedelta = timedelta(0)
    reschedule_limit: int | None = None
    color: str = "#4a90d9"
    #: The name in other languages, as (language, name) pairs: ``(("es", "Revisión"),)``.
    #: ``name`` is used for any language not listed.
    names: tuple[tuple[str, str], ...] = ()
    #: The fee a cancellation inside ``cancellation_period`` incurs, in cents of the
    #: clinic's currency (None: no fee; seed 003).
    late_cancellation_fee_cents: int | None = None

    def name_in(self, language: str) -> str:
        """The type's name in ``language`` (``en``, ``es`` …), else its ``name``."""
        wanted = (language, language.partition("_")[0])  # "es_MX" takes an "es" name too
        return next((n for lang, n in self.names if lang in wanted and n), self.name)

    def __post_init__(self) -> None:
        zero = timedelta(0)
        if self.min_duration <= zero:
            raise InvalidIntervalError("an appointment type's minimum duration must be positive")
        if not self.min_duration <= self.default_duration <= self.max_duration:
            raise InvalidIntervalError(
                "an appointment type needs min duration <= default duration <= max duration"
            )
        if self.buffer_before < zero or self.buffer_after < zero:
            raise InvalidIntervalError("buffers cannot be negative")
        if self.capacity < 1:
            raise SchedulingInputError("capacity must be at least 1")
        if self.late_cancellation_fee_cents is not None and self.late_cancellation_fee_cents < 0:
            raise SchedulingInputError("a late-cancellation fee cannot be negative")


# --------------------------------------------------------------------------- schedules


def _check_weekly(weekday: int, start: time, end: time, backwards: str) -> None:
    """A weekly block: a weekday 0-6 and local times that end after they start
    (``backwards``: the message when they do not)."""
    if not 0 <= weekday <= 6:
        raise SchedulingInputError("weekday must be 0 (Monday) to 6 (Sunday)")
    if end <= start:
        raise InvalidIntervalError(backwards)


@dataclass(frozen=True, slots=True)
class Break:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidIntervalError("a break must end after it starts")


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """Working hours of a provider at a clinic on one weekday (0 = Monday), in local time."""

    id: str
    provider_id: str
    clinic_id: str
    weekday: int
    start: time
    end: time
    breaks: tuple[Break, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None

    def __post_init__(self) -> None:
        _check_weekly(self.weekday, self.start, self.end,
                      "working hours must end after they start")

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or day >= self.valid_from)
            and (self.valid_until is None or day <= self.valid_until)
        )


class ExceptionKind(StrEnum):
    TIME_OFF = "time_off"
    EXTRA_HOURS = "extra_hours"


@dataclass(frozen=True, slots=True)
class ScheduleException:
    """A dated change to a provider's hours: time off removes, extra hours add."""

    id: str
    provider_id: str
    clinic_id: str
    kind: ExceptionKind
    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        _check_range(self, "start", "end")


@dataclass(frozen=True, slots=True)
class Holiday:
    """A local calendar day on which a clinic is closed."""

    id: str
    clinic_id: str
    day: date
    name: str = ""


@dataclass(frozen=True, slots=True)
class Blockout:
    """A blocked period for a whole clinic (``resource_id`` None) or one resource."""

    id: str
    clinic_id: str
    start: datetime
    end: datetime
    resource_id: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        _check_range(self, "start", "end")


class QuotaPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True, slots=True)
class Quota:
    """At most ``max_count`` active appointments per local day/week.

    Scoped to a provider, an appointment type and/or a department (the providers
    belonging to it; None = any).
    """

    id: str
    clinic_id: str
    period: QuotaPeriod
    max_count: int
    provider_id: str | None = None
    appointment_type_id: str | None = None
    department_id: str | None = None

    def __post_init__(self) -> None:
        if self.max_count < 0:
            raise SchedulingInputError("a quota cannot be negative")


# ------------------------------------------------------------------ patients and appointments


#: A patient's notification channels, in the order they are tried ("none": never contacted).
CONTACT_PREFERENCES: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "sms": ("sms",),
    "email_then_sms": ("email", "sms"),
    "sms_then_email": ("sms", "email"),
    "none": (),
}


@dataclass(frozen=True, slots=True)
class Patient:
    id: str
    organization_id: str
    given_name: str
    family_name: str
    active: bool = True
    phone: str = ""
    email: str = ""
    preferred_language: str = "en"
    #: How the patient wants notices and reminders: one of :data:`CONTACT_PREFERENCES`.
    contact_preference: str = "email_then_sms"
    #: The patient asked for no reminders (booking notices still follow the preference).
    reminders_opt_out: bool = False
    #: Seed 002's demographics and insurance (PHI: never in logs, URLs or audit details).
    date_of_birth: date | None = None
    address: str = ""
    insurance_provider: str = ""
    insurance_id: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class AppointmentStatus(StrEnum):
    PENDING = "pending"
    BOOKED = "booked"
    MESSAGE_LEFT = "message_left"  # the clinic left a message; the patient has not answered
    CONFIRMED = "confirmed"
    ARRIVED = "arrived"
    READY = "ready"  # arrived and ready for the provider (paperwork done, seated)
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    ENTERED_IN_ERROR = "entered_in_error"

    @property
    def occupies_time(self) -> bool:
        """Whether an appointment in this status blocks its resources."""
        return self not in _FREEING_STATUSES


_FREEING_STATUSES = frozenset(
    {AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW, AppointmentStatus.ENTERED_IN_ERROR}
)


class AppointmentSource(StrEnum):
    """Where a booking came from (seed 003)."""

    STAFF = "staff"
    ONLINE = "online"
    PHONE = "phone"
    RECALL = "recall"
    TREATMENT_PLAN = "treatment_plan"
    WAITLIST = "waitlist"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The last status step of an appointment, kept so it can be undone."""

    previous: AppointmentStatus
    at: datetime
    actor_id: str


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    organization_id: str
    clinic_id: str
    patient_id: str
    appointment_type_id: str
    provider_id: str
    start: datetime
    end: datetime
    status: AppointmentStatus = AppointmentStatus.BOOKED
    room_id: str | None = None
    equipment_ids: tuple[str, ...] = ()
    source: AppointmentSource = AppointmentSource.STAFF
    notes: str = ""
    patient_notes: str = ""
    series_id: str | None = None
    original_start: datetime | None = None
    deleted: bool = False
    version: int = 1
    reschedule_count: int = 0
    override_reason: str | None = None
    cancel_reason: str | None = None
    last_status_change: StatusChange | None = None
    #: One of :data:`scheduling.cancellation.CANCEL_CATEGORIES` (with ``cancel_reason``).
    cancel_category: str | None = None
    #: The visit this appointment belongs to (booked, moved, cancelled with the others).
    visit_id: str | None = None
    #: The named slot template it was booked into, if any.
    slot_template_id: str | None = None
    #: An EHR encounter reference set by an integration (opaque to the rules).
    encounter_ref: str | None = None
    #: When the patient checked in from the portal for a telemedicine visit (None: not
    #: checked in virtually); cleared when the arrival is undone.
    virtual_checkin_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_range(self, "start", "end")

    @property
    def is_active(self) -> bool:
        """Active bookings block their provider, room, equipment and patient."""
        return not self.deleted and self.status.occupies_time

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)

    @property
    def resource_ids(self) -> tuple[str, ...]:
        ids = [self.provider_id]
        if self.room_id:
            ids.append(self.room_id)
        ids.extend(self.equipment_ids)
        return tuple(ids)


@dataclass(frozen=True, slots=True)
class SlotTemplate:
    """A named slot of a provider's week at a clinic ("New patient 09:00-10:00"), in the
    clinic's local wall-clock time; ``appointment_type_id`` None: any type fits."""

    id: str
    provider_id: str
    clinic_id: str
    weekday: int
    start: time
    end: time
    name: str
    appointment_type_id: str | None = None

    def __post_init__(self) -> None:
        _check_weekly(self.weekday, self.start, self.end,
                      "a slot template must end after it starts")

    def fits(self, provider_id: str, clinic_id: str, appointment_type_id: str,
             start: datetime, end: datetime, tz: str) -> bool:
        """Whether an appointment from ``start`` to ``end`` (aware) lies inside this slot
        on the slot's weekday in the clinic's zone ``tz``, for its provider and type."""
        local_start, local_end = (moment.astimezone(zone(tz)) for moment in (start, end))
        return (provider_id == self.provider_id and clinic_id == self.clinic_id
                and self.appointment_type_id in (None, appointment_type_id)
                and local_start.weekday() == self.weekday
                and local_end.date() == local_start.date()
                and self.start <= local_start.time() and local_end.time() <= self.end)


@dataclass(frozen=True, slots=True)
class Series:
    """A recurring series: an RRULE expanded from ``first_local`` (naive wall-clock time in
    the clinic's zone). ``exdates`` are the original local starts of occurrences that were
    cancelled or split off. Occurrences are stored as ordinary appointments carrying
    ``series_id`` and ``original_start``."""

    id: str
    organization_id: str
    clinic_id: str
    rrule: str
    first_local: datetime
    exdates: frozenset[datetime] = frozenset()

    def __post_init__(self) -> None:
        if self.first_local.tzinfo is not None:
            raise SchedulingInputError("a series starts at a naive local wall-clock time")


@dataclass(frozen=True, slots=True)
class WaitlistEntry:
    """A patient waiting for a slot. Higher ``priority`` is served first, then older entries."""

    id: str
    organization_id: str
    clinic_id: str
    patient_id: str
    appointment_type_id: str
    created_at: datetime
    priority: int = 0
    preferred_provider_ids: frozenset[str] = frozenset()
    preferred_weekdays: frozenset[int] = frozenset()
    preferred_times: tuple[tuple[time, time], ...] = ()
    active: bool = True
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", require_aware(self.created_at, "created_at"))


# --------------------------------------------------------------------------- helpers


def _check_range(record: object, start_field: str, end_field: str) -> None:
    start = require_aware(getattr(record, start_field), start_field)
    end = require_aware(getattr(record, end_field), end_field)
    if end <= start:
        raise InvalidIntervalError(f"{type(record).__name__} must end after it starts")
    object.__setattr__(record, start_field, start)
    object.__setattr__(record, end_field, end)


__all__ = [
    "Appointment",
    "AppointmentSource",
    "AppointmentStatus",
    "AppointmentType",
    "Blockout",
    "Break",
    "Clinic",
    "Department",
    "ExceptionKind",
    "Holiday",
    "Organization",
    "Outage",
    "Patient",
    "Quota",
    "QuotaPeriod",
    "Resource",
    "ResourceKind",
    "ResourceRequirement",
    "Restriction",
    "ScheduleException",
    "Series",
    "StatusChange",
    "WaitlistEntry",
    "WeeklySchedule",
]
