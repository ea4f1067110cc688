"""The desk's local schema (SQLAlchemy 2 typed ORM).

Three kinds of tables:

* **mirrors** of the server's records (clinics … waitlist entries): the confirmed
  state as of the last pull, plus the desk's own optimistic changes marked by
  ``pending_mutation_id`` (the outbox entry that made them; None = confirmed).
  Mirrors carry no foreign keys: the server is the authority on references and
  a pull checkpoint must apply in any order, including records outside scope.
* **sync bookkeeping**: the outbox of intents, the sync state, the conflict inbox.
* **desk-only**: cached users for offline sign-in and the append-only local audit.

Instants are stored as UTC ISO text and come back aware; durations as whole
seconds; sets, tuples and nested values as JSON text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant stored as sortable UTC text (``2025-03-30T01:30:00.000000+00:00``)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the desk store only keeps aware (UTC) datetimes")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime,
        date: Date,
        time: Time,
        dict[str, Any]: JSON,
        list[Any]: JSON,
        str: String,
    }


def _json(default: Any) -> Any:
    return mapped_column(JSON, nullable=False, default=default)


class Mirror:
    """Columns every mirror of a server record has."""

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The organization's version cursor at which the server last changed this record.
    server_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DeskEditable:
    """A mirror the desk can change optimistically before the server confirms."""

    pending_mutation_id: Mapped[int | None] = mapped_column(Integer, index=True)

    @property
    def is_pending(self) -> bool:
        return self.pending_mutation_id is not None


# --------------------------------------------------------------------------- mirrors


class ClinicRow(Mirror, Base):
    __tablename__ = "clinics"

    organization_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str]
    time_zone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en_US")


class ResourceRow(Mirror, Base):
    __tablename__ = "resources"

    organization_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # scheduling.model.ResourceKind
    name: Mapped[str]
    clinic_ids: Mapped[list[Any]] = _json(list)
    department_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    # {"requires_approval": bool, "min_lead_time_seconds": int} or None
    restriction: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    color: Mapped[str] = mapped_column(String(16), default="")  # a provider's, or ""


class AppointmentTypeRow(Mirror, Base):
    __tablename__ = "appointment_types"

    organization_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str]
    default_duration_seconds: Mapped[int]
    min_duration_seconds: Mapped[int]
    max_duration_seconds: Mapped[int]
    buffer_before_seconds: Mapped[int] = mapped_column(default=0)
    buffer_after_seconds: Mapped[int] = mapped_column(default=0)
    # {"providers": [...], "rooms": [...], "equipment": [[...], ...]}
    requirement: Mapped[dict[str, Any]] = _json(dict)
    capacity: Mapped[int] = mapped_column(default=1)
    online_bookable: Mapped[bool] = mapped_column(default=False)
    telemedicine: Mapped[bool] = mapped_column(default=False)
    min_notice_seconds: Mapped[int] = mapped_column(default=0)
    max_days_ahead: Mapped[int | None]
    cancellation_period_seconds: Mapped[int] = mapped_column(default=0)
    reschedule_limit: Mapped[int | None]
    color: Mapped[str] = mapped_column(String(16), default="#4a90d9")
    #: The name per language: [[language, name], …] (store migration 0007).
    names: Mapped[list[Any]] = _json(list)
    late_cancellation_fee_cents: Mapped[int | None]


class WeeklyScheduleRow(Mirror, Base):
    __tablename__ = "weekly_schedules"

    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    clinic_id: Mapped[str] = mapped_column(String(64))
    weekday: Mapped[int]
    start: Mapped[time]  # clinic-local wall clock
    end: Mapped[time]
    breaks: Mapped[list[Any]] = _json(list)  # [["12:00:00", "13:00:00"], ...]
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]


class SlotTemplateRow(Mirror, Base):
    """A named slot of a provider's week ("New patient" Mondays 09:00-10:00), store
    migration 0012; ``appointment_type_id`` None: any type fits."""

    __tablename__ = "slot_templates"

    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    clinic_id: Mapped[str] = mapped_column(String(64))
    weekday: Mapped[int]
    start: Mapped[time]  # clinic-local wall clock
    end: Mapped[time]
    name: Mapped[str] = mapped_column(String(200))
    appointment_type_id: Mapped[str | None] = mapped_column(String(64))


class ScheduleExceptionRow(Mirror, Base):
    __tablename__ = "schedule_exceptions"

    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    clinic_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # scheduling.model.ExceptionKind
    start: Mapped[datetime]
    end: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")


class HolidayRow(Mirror, Base):
    __tablename__ = "holidays"

    clinic_id: Mapped[str] = mapped_column(String(64), index=True)
    day: Mapped[date]
    name: Mapped[str] = mapped_column(default="")


class BlockoutRow(Mirror, DeskEditable, Base):
    __tablename__ = "blockouts"

    clinic_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    resource_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    # A lift the server has not judged yet (pending): hidden, but kept for the rebase.
    deleted: Mapped[bool] = mapped_column(default=False)


class OutageRow(Mirror, Base):
    __tablename__ = "outages"

    resource_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")


class QuotaRow(Mirror, Base):
    __tablename__ = "quotas"

    clinic_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(8))  # scheduling.model.QuotaPeriod
    max_count: Mapped[int]
    provider_id: Mapped[str | None] = mapped_column(String(64))
    appointment_type_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[str | None] = mapped_column(String(64))


class PatientRow(Mirror, DeskEditable, Base):
    __tablename__ = "patients"
    __table_args__ = (
        # Search results in their order, without sorting every match (see patients.search).
        Index("ix_patients_folded_name_id", "folded_name", "id"),
    )

    organization_id: Mapped[str] = mapped_column(String(64))
    given_name: Mapped[str]
    family_name: Mapped[str] = mapped_column(index=True)
    active: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str] = mapped_column(default="")
    email: Mapped[str] = mapped_column(default="")
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    #: How notices and reminders reach the patient (scheduling.model.CONTACT_PREFERENCES).
    contact_preference: Mapped[str] = mapped_column(String(16), default="email_then_sms")
    reminders_opt_out: Mapped[bool] = mapped_column(default=False)
    #: ISO date ("" when unknown), as a patient update carries it.
    date_of_birth: Mapped[str] = mapped_column(String(10), default="")
    address: Mapped[str] = mapped_column(default="")
    insurance_provider: Mapped[str] = mapped_column(String(100), default="")
    insurance_id: Mapped[str] = mapped_column(String(50), default="")
    # Kept by desktop.store.patient_names on every flush: folded "family<TAB>given" (the
    # search results' order) and the phone's digits.
    folded_name: Mapped[str] = mapped_column(default="")
    phone_digits: Mapped[str] = mapped_column(String(32), default="")


class PatientNameKey(Base):
    """One folded word of a patient's names (see :mod:`desktop.store.patient_names`)."""

    __tablename__ = "patient_name_keys"
    __table_args__ = (
        # The primary key serves word ranges; this one "does this patient have such a word".
        Index("ix_patient_name_keys_patient_id_word", "patient_id", "word"),
    )

    word: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class AppointmentRow(Mirror, DeskEditable, Base):
    """Every field of :class:`scheduling.model.Appointment`; ``version`` is the server's."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_provider_id_start", "provider_id", "start"),
        Index("ix_appointments_room_id_start", "room_id", "start"),
        Index("ix_appointments_patient_id_start", "patient_id", "start"),
        Index("ix_appointments_clinic_id_start", "clinic_id", "start"),
        # load_state's window: organization, then start bounded on both sides.
        Index("ix_appointments_organization_id_start", "organization_id", "start"),
    )

    organization_id: Mapped[str] = mapped_column(String(64))
    clinic_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(64))
    appointment_type_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime]
    end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(24), default="booked")
    room_id: Mapped[str | None] = mapped_column(String(64))
    equipment_ids: Mapped[list[Any]] = _json(list)
    source: Mapped[str] = mapped_column(String(24), default="staff")
    notes: Mapped[str] = mapped_column(Text, default="")
    patient_notes: Mapped[str] = mapped_column(Text, default="")
    series_id: Mapped[str | None] = mapped_column(String(64), index=True)
    original_start: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    reschedule_count: Mapped[int] = mapped_column(default=0)
    override_reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancel_category: Mapped[str | None] = mapped_column(String(40))
    visit_id: Mapped[str | None] = mapped_column(String(64), index=True)
    slot_template_id: Mapped[str | None] = mapped_column(String(64))
    encounter_ref: Mapped[str | None] = mapped_column(String(200))
    #: When the patient checked in from the portal (a telemedicine visit), else None.
    virtual_checkin_at: Mapped[datetime | None]
    # {"previous": status, "at": iso instant, "actor_id": str} or None
    last_status_change: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SeriesRow(Mirror, DeskEditable, Base):
    """A recurring booking: the rule and its template; occurrences are appointments.

    Provisional until the domain's recurrence model lands; ``details`` holds any
    further template fields so the schema need not change for them.
    """

    __tablename__ = "series"

    organization_id: Mapped[str] = mapped_column(String(64))
    clinic_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(64), index=True)
    appointment_type_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    rrule: Mapped[str] = mapped_column(Text)
    first_start: Mapped[datetime]
    duration_seconds: Mapped[int]
    details: Mapped[dict[str, Any]] = _json(dict)
    deleted: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)


class WaitlistEntryRow(Mirror, DeskEditable, Base):
    __tablename__ = "waitlist_entries"

    organization_id: Mapped[str] = mapped_column(String(64))
    clinic_id: Mapped[str] = mapped_column(String(64), index=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    appointment_type_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    priority: Mapped[int] = mapped_column(default=0)
    preferred_provider_ids: Mapped[list[Any]] = _json(list)
    preferred_weekdays: Mapped[list[Any]] = _json(list)
    preferred_times: Mapped[list[Any]] = _json(list)  # [["09:00:00", "12:00:00"], ...]
    active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(Text, default="")


# --------------------------------------------------------------------------- sync bookkeeping


class OutboxState:
    QUEUED = "queued"  # written locally, not yet sent
    PUSHED = "pushed"  # sent at least once, not yet acknowledged by a pull


class OutboxEntry(Base):
    """One intent waiting for the server. ``mutation_id`` is gap-free per client."""

    __tablename__ = "outbox"

    mutation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = _json(dict)
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.QUEUED)
    # The user signed in when it was queued (the server judges it with their permissions).
    user_id: Mapped[str | None] = mapped_column(String(64))


SYNC_STATE_ID = 1


class SyncState(Base):
    """The desk's one row of sync bookkeeping (``id`` is always 1)."""

    __tablename__ = "sync_state"
    __table_args__ = (CheckConstraint(f"id = {SYNC_STATE_ID}", name="singleton"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=SYNC_STATE_ID)
    client_id: Mapped[str | None] = mapped_column(String(64))
    # The organization the desk is enrolled in; pulls of another one's records are refused.
    organization_id: Mapped[str | None] = mapped_column(String(64))
    # Where the device token is kept (an OS key store username); never the token itself.
    device_token_ref: Mapped[str | None] = mapped_column(String(128))
    server_version: Mapped[int] = mapped_column(Integer, default=0)  # the pull cursor
    last_mutation_id: Mapped[int] = mapped_column(Integer, default=0)  # acknowledged
    last_sync_at: Mapped[datetime | None]
    # When the exceptions panel last read the open staff alerts (see StaffAlertRow).
    staff_alerts_read_at: Mapped[datetime | None]


class ConflictRow(Base):
    """An entry of the conflict inbox: an intent the server refused, and why."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mutation_id: Mapped[int] = mapped_column(Integer, index=True)
    attempted: Mapped[dict[str, Any]] = _json(dict)  # {"name": ..., "args": {...}}
    code: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = _json(dict)
    alternatives: Mapped[list[Any]] = _json(list)
    received_at: Mapped[datetime]
    dismissed_at: Mapped[datetime | None]
    dismissed_by: Mapped[str | None] = mapped_column(String(64))


# --------------------------------------------------------------------------- desk-only


class StaffAlertRow(Base):
    """An open staff alert as the exceptions panel last read it from the server, so an
    offline desk still shows the list (replaced whole at every read; ids, no contact data)."""

    __tablename__ = "staff_alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    appointment_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(64))
    appointment_start: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(40))
    channels_tried: Mapped[list[Any]] = _json(list)
    created_at: Mapped[datetime]


class CachedUser(Base):
    """A user who signed in online on this desk, so they may sign in offline for a while."""

    __tablename__ = "cached_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str]
    verifier: Mapped[str] = mapped_column(Text)  # an argon2id PHC string, never the password
    roles: Mapped[list[Any]] = _json(list)
    permissions: Mapped[list[Any]] = _json(list)
    verified_at: Mapped[datetime]  # last online check; starts the offline window
    #: The departments whose calendar the user sees, ``[[id, name], ...]`` (0011);
    #: None: no department limits.
    departments: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class LocalAuditEntry(Base):
    """Append-only (enforced by triggers): sign-ins, failures, locks, sign-outs.

    ``target`` and ``reason`` name records and causes, never patient data.
    """

    __tablename__ = "local_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    intent: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
