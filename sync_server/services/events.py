"""Domain events: what an accepted change did, recorded on the unit of work.

Every intent the server accepts emits one :class:`ChangeAccepted` (the bookkeeping every
change gets: version bump, change log, audit entry) followed by the domain events of
what it changed (:class:`AppointmentBooked`, :class:`AppointmentMoved` …). The handlers
of each event type are listed in one place, :data:`sync_server.services.handlers.HANDLERS`,
and run inside the change's transaction, before it commits. A refused intent emits
no event.

An event carries what a handler needs without reading the database again: the
organization, the ids, and for an appointment where it stood before and stands after
(:class:`Placement`). Events hold ids, instants and codes — never a patient's name,
phone number or notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from scheduling import model


@dataclass(frozen=True, slots=True)
class Event:
    """Something the server accepted, in one organization."""

    organization_id: str


# --------------------------------------------------------------------------- bookkeeping


@dataclass(frozen=True, slots=True)
class ChangeAccepted(Event):
    """One accepted intent (REST call, pushed mutation or administrator's edit): the
    records it wrote (``records``, domain records in their wire form) and deleted
    (``deleted``: ``(entity, id)`` pairs) and the audit entry it gets."""

    at: datetime
    actor_user_id: str | None
    actor_device_id: str | None
    intent: str
    target_type: str
    target_id: str
    outcome: str = "accepted"
    reason: str = ""
    records: Sequence[Any] = ()
    deleted: Sequence[tuple[str, str]] = ()


# --------------------------------------------------------------------------- appointments


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and when an appointment stands, and in which status."""

    clinic_id: str
    provider_id: str
    room_id: str | None
    equipment_ids: tuple[str, ...]
    start: datetime
    end: datetime
    status: model.AppointmentStatus
    deleted: bool = False

    @property
    def resource_ids(self) -> tuple[str, ...]:
        """Provider, room and equipment (what a booking occupies, the patient aside)."""
        room = (self.room_id,) if self.room_id else ()
        return (self.provider_id, *room, *self.equipment_ids)

    @classmethod
    def of(cls, appointment: model.Appointment) -> Placement:
        return cls(appointment.clinic_id, appointment.provider_id, appointment.room_id,
                   tuple(appointment.equipment_ids), appointment.start, appointment.end,
                   appointment.status, appointment.deleted)


@dataclass(frozen=True, slots=True)
class AppointmentChanged(Event):
    """Any change of one appointment (register a handler here to hear of all of them).

    ``before``: where it stood before the change (``None`` for a new booking);
    ``after``: where it stands now."""

    appointment_id: str
    patient_id: str
    series_id: str | None
    before: Placement | None
    after: Placement
    appointment_type_id: str | None = None

    @property
    def clinic_id(self) -> str:
        return self.after.clinic_id

    @property
    def resource_ids(self) -> frozenset[str]:
        """Every resource the change touched, before and after."""
        before = self.before.resource_ids if self.before else ()
        return frozenset((*before, *self.after.resource_ids))


@dataclass(frozen=True, slots=True)
class AppointmentBooked(AppointmentChanged):
    """A new appointment (one-off, a series occurrence or booked from the waitlist)."""


@dataclass(frozen=True, slots=True)
class AppointmentMoved(AppointmentChanged):
    """Its time, length or resources changed (move, resize, series move)."""


@dataclass(frozen=True, slots=True)
class AppointmentCancelled(AppointmentChanged):
    """Cancelled (it no longer occupies anything)."""


@dataclass(frozen=True, slots=True)
class StatusChanged(AppointmentChanged):
    """Its status changed otherwise (confirmed, arrived, no-show, undone …)."""


def appointment_event(
    organization_id: str, before: Placement | None, after: model.Appointment
) -> AppointmentChanged:
    """The event of writing ``after`` over an appointment that stood at ``before``."""
    placement = Placement.of(after)
    kind: type[AppointmentChanged]
    if before is None:
        kind = AppointmentBooked
    elif placement.status is model.AppointmentStatus.CANCELLED \
            and before.status is not model.AppointmentStatus.CANCELLED:
        kind = AppointmentCancelled
    elif placement.status is not before.status:
        kind = StatusChanged
    elif (placement.start, placement.end, placement.resource_ids) \
            != (before.start, before.end, before.resource_ids):
        kind = AppointmentMoved
    else:
        kind = StatusChanged  # written again unchanged in place (an undo, a note)
    return kind(organization_id, after.id, after.patient_id, after.series_id, before,
                placement, after.appointment_type_id)


# --------------------------------------------------------------------------- other records


@dataclass(frozen=True, slots=True)
class SeriesChanged(Event):
    """A recurring series was created or its rule changed (its occurrences get their
    own appointment events)."""

    series_id: str
    clinic_id: str


@dataclass(frozen=True, slots=True)
class PatientChanged(Event):
    patient_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class WaitlistChanged(Event):
    entry_id: str
    clinic_id: str
    patient_id: str
    active: bool


@dataclass(frozen=True, slots=True)
class BlockoutChanged(Event):
    blockout_id: str
    clinic_id: str
    resource_id: str | None
    start: datetime
    end: datetime
    deleted: bool


@dataclass(frozen=True, slots=True)
class ConfigurationChanged(Event):
    """An administrator created, changed or removed a configuration record (clinic,
    resource, appointment type, schedule, quota …)."""

    entity: str
    record_id: str
    op: Literal["upsert", "delete"]
    #: The record as it was before an update or removal (its domain record), for the
    #: kinds whose handlers compare (weekly schedules and schedule exceptions: the
    #: waitlist offers the working time they add); ``None`` otherwise.
    before: Any = None


__all__ = [
    "AppointmentBooked",
    "AppointmentCancelled",
    "AppointmentChanged",
    "AppointmentMoved",
    "BlockoutChanged",
    "ChangeAccepted",
    "ConfigurationChanged",
    "Event",
    "PatientChanged",
    "Placement",
    "SeriesChanged",
    "StatusChanged",
    "WaitlistChanged",
    "appointment_event",
]
