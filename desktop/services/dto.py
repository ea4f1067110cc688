"""What services hand to the UI: small frozen values, never ORM rows or sessions.

Instants are aware UTC datetimes; the UI formats them in the clinic's zone.
Refusal parameters are raw values (ids, datetimes, counts) to format with the
gettext message ``message_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any


def _frozen_params() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AlternativeDTO:
    """A free placement offered instead of a refused one."""

    start: datetime
    end: datetime
    provider_id: str
    room_id: str | None = None
    equipment_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RefusalDTO:
    """Why an action was refused: a stable code, a gettext msgid and its parameters."""

    code: str
    message_id: str
    params: Mapping[str, Any] = field(default_factory=_frozen_params)
    alternatives: tuple[AlternativeDTO, ...] = ()
    overridable: bool = False


@dataclass(frozen=True, slots=True)
class AppointmentDTO:
    id: str
    clinic_id: str
    patient_id: str
    appointment_type_id: str
    provider_id: str
    start: datetime
    end: datetime
    status: str
    room_id: str | None
    equipment_ids: tuple[str, ...]
    source: str
    notes: str
    series_id: str | None
    version: int
    pending: bool


@dataclass(frozen=True, slots=True)
class OccurrenceDTO:
    """One occurrence of a series action: its appointment if accepted, else the refusal."""

    original_start: datetime
    appointment: AppointmentDTO | None
    refusal: RefusalDTO | None

    @property
    def ok(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer to a scheduling action.

    ``ok`` with the appointment(s) as they now stand locally (pending until the
    server confirms) and the outbox ``mutation_id``; or not ``ok`` with ``refusal``.
    Series actions also list every occurrence; ``record_id`` names a created
    non-appointment record (a waitlist entry, a blockout, a series).
    """

    ok: bool
    appointments: tuple[AppointmentDTO, ...] = ()
    refusal: RefusalDTO | None = None
    mutation_id: int | None = None
    occurrences: tuple[OccurrenceDTO, ...] = ()
    record_id: str | None = None
    #: Codes the rules attached to an accepted action (``LATE_CANCELLATION`` …).
    notices: tuple[str, ...] = ()

    @property
    def appointment(self) -> AppointmentDTO | None:
        return self.appointments[0] if self.appointments else None


@dataclass(frozen=True, slots=True)
class PatientDTO:
    id: str
    given_name: str
    family_name: str
    display_name: str
    phone: str
    email: str
    preferred_language: str
    active: bool
    pending: bool
    contact_preference: str = "email_then_sms"
    reminders_opt_out: bool = False
    #: The start of the patient's next booked appointment (searches fill it), if any.
    next_appointment: datetime | None = None
    #: Seed 002's record: ISO date of birth ("" when unknown), address and insurance.
    date_of_birth: str = ""
    address: str = ""
    insurance_provider: str = ""
    insurance_id: str = ""


@dataclass(frozen=True, slots=True)
class PatientResult:
    ok: bool
    patient: PatientDTO | None = None
    refusal: RefusalDTO | None = None
    mutation_id: int | None = None


@dataclass(frozen=True, slots=True)
class WaitlistEntryDTO:
    id: str
    clinic_id: str
    patient_id: str
    patient_name: str
    appointment_type_id: str
    priority: int
    created_at: datetime
    preferred_provider_ids: tuple[str, ...]
    preferred_weekdays: tuple[int, ...]
    note: str
    active: bool
    pending: bool
    #: Local wall-clock ranges the patient prefers (empty: any time).
    preferred_times: tuple[tuple[time, time], ...] = ()


@dataclass(frozen=True, slots=True)
class BlockoutDTO:
    id: str
    clinic_id: str
    start: datetime
    end: datetime
    resource_id: str | None
    reason: str
    pending: bool


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """One appointment as the agenda draws it."""

    appointment_id: str
    patient_id: str
    patient_name: str
    appointment_type_id: str
    type_name: str
    color: str
    provider_id: str
    provider_name: str
    room_id: str | None
    room_name: str | None
    start: datetime
    end: datetime
    status: str
    pending: bool
    #: Checked in from the portal for a telemedicine visit (shown "Arrived · virtual").
    virtual: bool = False
    #: (number, total) when it is part of a visit.
    visit_part: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class AgendaView:
    """A day or a week of one clinic: local days ``first_day``..``last_day``."""

    clinic_id: str
    time_zone: str
    first_day: date
    last_day: date
    items: tuple[AgendaItem, ...]


@dataclass(frozen=True, slots=True)
class ConflictDTO:
    """An entry of the conflict inbox: an intent the server refused."""

    id: int
    mutation_id: int
    intent: str
    code: str
    message_id: str
    params: Mapping[str, Any]
    alternatives: tuple[AlternativeDTO, ...]
    received_at: datetime
