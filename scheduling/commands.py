"""Commands (intents) the rules engine judges, and the outcomes it returns.

Desks and the server build the same command values: a desk to give instant
feedback offline, the server to decide with authority. Commands name what
the user wants ("move A to 10:15 with Dr Ruiz"), never rows to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from scheduling.model import Appointment, AppointmentSource, AppointmentStatus
from scheduling.refusals import RefusalCode, message_for
from scheduling.timeutil import require_aware


class Permission(StrEnum):
    VIEW_CALENDAR = "booking:view_calendar"
    CREATE = "booking:create_appointment"
    MODIFY = "booking:modify_appointment"
    CANCEL = "booking:cancel_appointment"
    OVERRIDE = "booking:override"
    APPROVE = "booking:approve"
    UNDO = "booking:undo"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a signed-in user on an enrolled device, with their permissions."""

    user_id: str
    device_id: str | None = None
    permissions: frozenset[str] = frozenset()
    online_booking: bool = False  # a patient booking through the portal

    def may(self, permission: Permission) -> bool:
        return permission.value in self.permissions


@dataclass(frozen=True, slots=True)
class Policy:
    """Organization-wide knobs of the rules engine."""

    undo_window: timedelta = timedelta(minutes=5)
    max_alternatives: int = 5
    alternatives_horizon_days: int = 14
    slot_step: timedelta = timedelta(minutes=15)
    max_occurrences: int = 520
    #: The fee a late cancellation incurs, in the clinic's currency (None: no fee).
    late_cancellation_fee: Decimal | None = None
    #: Patients at the organization's no-show limit (:mod:`scheduling.no_shows`; the server
    #: works them out and passes them in): their bookings by the patient are refused, by
    #: staff without ``booking:approve`` they wait for approval.
    no_show_limited: Mapping[str, int] = field(default_factory=dict)
    no_show_months: int = 12


# --------------------------------------------------------------------------- commands


def _aware(record: object, *names: str) -> None:
    for name in names:
        value = getattr(record, name)
        if value is not None:
            object.__setattr__(record, name, require_aware(value, name))


@dataclass(frozen=True, slots=True)
class BookAppointment:
    """Book a patient. ``end`` None means the type's default duration; ``room_id`` None
    means "any suitable free room" (the rules pick one when the type needs a room)."""

    actor: Actor
    appointment_id: str
    clinic_id: str
    patient_id: str
    appointment_type_id: str
    provider_id: str
    start: datetime
    end: datetime | None = None
    room_id: str | None = None
    equipment_ids: tuple[str, ...] | None = None
    source: AppointmentSource = AppointmentSource.STAFF
    notes: str = ""
    patient_notes: str = ""
    override_reason: str | None = None
    series_id: str | None = None
    original_start: datetime | None = None
    visit_id: str | None = None
    slot_template_id: str | None = None

    def __post_init__(self) -> None:
        _aware(self, "start", "end", "original_start")


@dataclass(frozen=True, slots=True)
class MoveAppointment:
    """Move to a new start (duration kept), optionally to another provider/room."""

    actor: Actor
    appointment_id: str
    start: datetime
    provider_id: str | None = None
    room_id: str | None = None
    override_reason: str | None = None
    #: A patient who checked in virtually is handed to a backup provider (the server's
    #: no-join offer, never a desk's intent): the arrived visit moves and stays arrived.
    waiting_room: bool = False
    #: The equipment is chosen again like a room left to the rules: the current items if
    #: free, else others of the type's groups (the server's outage re-route, never a
    #: desk's intent; a move otherwise keeps its equipment).
    choose_equipment: bool = False

    def __post_init__(self) -> None:
        _aware(self, "start")


@dataclass(frozen=True, slots=True)
class ResizeAppointment:
    actor: Actor
    appointment_id: str
    end: datetime
    override_reason: str | None = None

    def __post_init__(self) -> None:
        _aware(self, "end")


@dataclass(frozen=True, slots=True)
class ChangeDetails:
    """Change an appointment's type and/or notes after booking (seed 001).

    ``None`` keeps a field. A new type is judged again like a booking at the same start
    (its length, capacity, online-bookable flag, rooms and equipment); ``end`` None with
    a new type means the new type's default length."""

    actor: Actor
    appointment_id: str
    appointment_type_id: str | None = None
    notes: str | None = None
    patient_notes: str | None = None
    end: datetime | None = None
    override_reason: str | None = None

    def __post_init__(self) -> None:
        _aware(self, "end")


@dataclass(frozen=True, slots=True)
class CancelAppointment:
    actor: Actor
    appointment_id: str
    reason: str
    override_reason: str | None = None
    #: One of :data:`scheduling.cancellation.CANCEL_CATEGORIES`, or None.
    category: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeStatus:
    actor: Actor
    appointment_id: str
    status: AppointmentStatus
    reason: str = ""
    #: A patient's own check-in for a telemedicine visit (the portal's, never a desk's
    #: intent): the arrival records when it happened as ``virtual_checkin_at``.
    virtual: bool = False


@dataclass(frozen=True, slots=True)
class UndoStatus:
    actor: Actor
    appointment_id: str


Command = (
    BookAppointment
    | MoveAppointment
    | ResizeAppointment
    | CancelAppointment
    | ChangeStatus
    | UndoStatus
    | ChangeDetails
)


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True, order=True)
class Alternative:
    """A concrete free placement offered instead of a refused one."""

    start: datetime
    end: datetime
    provider_id: str
    room_id: str | None = None
    equipment_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Accepted:
    """The command may proceed. ``appointments`` are the records as they will be."""

    appointments: tuple[Appointment, ...]
    notices: tuple[RefusalCode, ...] = ()
    overridden: tuple[RefusalCode, ...] = ()
    override_reason: str | None = None

    @property
    def appointment(self) -> Appointment:
        return self.appointments[0]


@dataclass(frozen=True, slots=True)
class Refused:
    """The command may not proceed, and why, with nearby alternatives where they help."""

    code: RefusalCode
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    alternatives: tuple[Alternative, ...] = ()
    overridable: bool = False

    @property
    def message_id(self) -> str:
        """The gettext msgid of the message; format it with :attr:`params`."""
        return message_for(self.code)


Outcome = Accepted | Refused
