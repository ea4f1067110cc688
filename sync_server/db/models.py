"""The server database: SQLAlchemy 2 typed models.

Every record carries ``organization_id`` (except the global permission
catalogue), and every query of the API filters on it. Identifiers are UUID
strings, as in the domain; log-like tables (audit, change log) use integers.
The records desks create with ids of their own (patients, series, appointments,
blockouts, waitlist entries) are keyed by ``(id, organization_id)``: ids are unique
per organization (see :func:`org_ref` and :func:`get_in_org`).
Instants are :class:`~sync_server.db.types.UTCDateTime`; durations are whole
seconds (``*_seconds``), which both backends store exactly.

Double-booking guard (``appointment_resources``)
-------------------------------------------------
Each appointment occupies each of its resources (provider, room, equipment)
with one row spanning ``[block_start, block_end)`` = the appointment widened
by its type's buffers. On PostgreSQL the initial migration adds::

    EXCLUDE USING gist (resource_id WITH =, tstzrange(block_start, block_end, '[)') WITH &&)
        WHERE (active AND NOT overridden AND NOT group_member)

so two active, non-overridden occupations of one resource can never overlap,
whatever the application does. ``overridden`` rows (a permitted, audited
double-booking override) are outside the constraint.

Group slots (appointment type capacity > 1) occupy each resource *once*: the
first member's row has ``group_member = false`` and holds the exclusion; later
members of the same slot are inserted with ``group_member = true`` (outside
the constraint) after the writer has taken the per-resource lock
(:func:`sync_server.db.session.lock_resources`) and counted the slot's active
members against the capacity. When the holding row stops being active
(cancellation, move) while other members remain, the same transaction must
promote one remaining member row to ``group_member = false``. On SQLite every
write transaction is serialized (``BEGIN IMMEDIATE``), which gives the same
guarantee without a constraint.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sync_server.db.types import BigIntId, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(36)
#: Appointment ids: UUIDs, or ``<series id>@<YYYYmmddTHHMM>`` for series occurrences.
APPOINTMENT_ID = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - read once by SQLAlchemy
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        Decimal: Numeric(10, 2),
    }


_Row = TypeVar("_Row", bound=Base)


def org_fk(*, primary_key: bool = False) -> Mapped[str]:
    """The owning organization; ``primary_key``: part of the record's key (see below)."""
    return mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"), index=True,
                         primary_key=primary_key)


#: Records a desk (or a client) creates with ids of its own are keyed by
#: ``(id, organization_id)`` (migration 0023): ids are unique per organization, so
#: another organization's id is answered like a fresh one, never "already exists".
#: Read them with :func:`get_in_org`; whatever refers to them names both columns.
def org_ref(column: str, table: str, *, ondelete: str | None = None) -> ForeignKeyConstraint:
    """A foreign key ``(column, organization_id)`` to ``table``'s ``(id, organization_id)``."""
    return ForeignKeyConstraint([column, "organization_id"],
                                [f"{table}.id", f"{table}.organization_id"], ondelete=ondelete)


def get_in_org(session: Session, model: type[_Row], organization_id: str,
               record_id: str) -> _Row | None:
    """The record ``record_id`` of ``organization_id`` (None: no such record there).

    For a model keyed by ``(id, organization_id)`` this is the identity-map lookup; for
    one keyed by its id alone, the row when it belongs to the organization."""
    if len(model.__mapper__.primary_key) == 2:
        return session.get(model, (record_id, organization_id))
    row: Any = session.get(model, record_id)
    return row if row is not None and row.organization_id == organization_id else None


# --------------------------------------------------------------------------- tenancy


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class OrgVersion(Base):
    """The organization's sync version; bumped in the same transaction as every change."""

    __tablename__ = "org_versions"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(BigIntId, default=0)


class ConfigVersion(Base):
    """How many times the organization's configuration tables were written (clinics,
    resources and their clinics, appointment types, weekly schedules, quotas; since
    migration 0024 also notification settings and calendar feeds, a feed's version
    excepted): counted by database triggers (migration 0004), read to keep a
    configuration between requests. No row: no change since that migration (0)."""

    __tablename__ = "config_versions"
    organization_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(BigIntId)


class Clinic(Base):
    __tablename__ = "clinics"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en_US")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    address: Mapped[str] = mapped_column(Text, default="")
    #: Opening hours as shown to people ("Mon-Fri 08:00-18:00"); bookable hours are the
    #: providers' weekly schedules.
    opening_hours: Mapped[str] = mapped_column(String(200), default="")


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))


# --------------------------------------------------------------------------- accounts


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: A secret being enrolled: it becomes ``totp_secret`` once a code from it is confirmed.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Permission(Base):
    """The global catalogue of permission codes (``booking:create_appointment`` …)."""

    __tablename__ = "permissions"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    name: Mapped[str] = mapped_column(String(64))
    #: Users holding this role must have a second factor to sign in.
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Its permissions hold only in the departments its users belong to (0016).
    department_scoped: Mapped[bool] = mapped_column(Boolean, default=False)


class UserDepartment(Base):
    """A user's membership of a department (0016): a department-scoped role of the user
    grants its permissions in these departments only."""

    __tablename__ = "user_departments"
    user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[str] = mapped_column(
        ID, ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = org_fk()


class RecoveryCode(Base):
    """A one-time sign-in code for a lost authenticator (SHA-256 stored, shown once)."""

    __tablename__ = "recovery_codes"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RolePermission(Base):
    __tablename__ = "role_permissions"
    role_id: Mapped[str] = mapped_column(
        ID, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(
        String(64), ForeignKey("permissions.code"), primary_key=True
    )
    organization_id: Mapped[str] = org_fk()


class UserRole(Base):
    """A role granted to a user, organization-wide or (``department_id``) for one department."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role_id", "department_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[str] = mapped_column(ID, ForeignKey("roles.id", ondelete="CASCADE"))
    department_id: Mapped[str | None] = mapped_column(ID, ForeignKey("departments.id"))


class Device(Base):
    """An enrolled desk. ``token_hash`` is the SHA-256 of its bearer token."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    client_id: Mapped[str] = mapped_column(ID, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class EnrollmentCode(Base):
    """A one-time desk enrollment code, stored as its SHA-256."""

    __tablename__ = "enrollment_codes"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    device_id: Mapped[str | None] = mapped_column(ID, ForeignKey("devices.id"))


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# --------------------------------------------------------------------------- resources & config


class Resource(Base):
    """A provider, room/chair or piece of equipment; restriction fields per DESIGN §2."""

    __tablename__ = "resources"
    __table_args__ = (CheckConstraint("kind IN ('provider', 'room', 'equipment')", name="kind"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[str | None] = mapped_column(ID, ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    min_lead_time_seconds: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Providers (seed 002 "physicians"): specialty, licence number, and the user account
    #: that may manage this provider's own schedule (``schedule:own``; checked by the
    #: service, no foreign key: SQLite cannot add one to an existing table in place).
    specialty: Mapped[str] = mapped_column(String(200), default="")
    licence_number: Mapped[str] = mapped_column(String(50), default="")
    user_id: Mapped[str | None] = mapped_column(ID)
    #: The provider's colour in the agenda (``#rrggbb``, empty: the agenda's own; 0016).
    color: Mapped[str] = mapped_column(String(16), default="")


class ResourceClinic(Base):
    """A resource's clinic assignment (providers may work at several clinics)."""

    __tablename__ = "resource_clinics"
    resource_id: Mapped[str] = mapped_column(
        ID, ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    clinic_id: Mapped[str] = mapped_column(
        ID, ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[str] = org_fk()


class Outage(Base):
    __tablename__ = "outages"
    __table_args__ = (CheckConstraint("end_at > start_at", name="range"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    resource_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500), default="")


class AppointmentType(Base):
    """Mirrors :class:`scheduling.model.AppointmentType`; ``requirement`` is
    ``{"providers": [...], "rooms": [...], "equipment": [[...], ...]}``."""

    __tablename__ = "appointment_types"
    __table_args__ = (CheckConstraint("capacity >= 1", name="capacity"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    name: Mapped[str] = mapped_column(String(200))
    default_duration_seconds: Mapped[int] = mapped_column(Integer)
    min_duration_seconds: Mapped[int] = mapped_column(Integer)
    max_duration_seconds: Mapped[int] = mapped_column(Integer)
    buffer_before_seconds: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_seconds: Mapped[int] = mapped_column(Integer, default=0)
    requirement: Mapped[dict[str, Any]]
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    online_bookable: Mapped[bool] = mapped_column(Boolean, default=False)
    telemedicine: Mapped[bool] = mapped_column(Boolean, default=False)
    min_notice_seconds: Mapped[int] = mapped_column(Integer, default=0)
    max_days_ahead: Mapped[int | None] = mapped_column(Integer)
    cancellation_period_seconds: Mapped[int] = mapped_column(Integer, default=0)
    reschedule_limit: Mapped[int | None] = mapped_column(Integer)
    color: Mapped[str] = mapped_column(String(16), default="#4a90d9")
    #: The name per language: [[language, name], …] (migration 0015).
    names: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Booking policy: the fee of a late cancellation, in cents (None: no fee; 0016).
    late_cancellation_fee_cents: Mapped[int | None] = mapped_column(Integer)
    #: A completed visit asks for a follow-up within this many days (server only).
    follow_up_days: Mapped[int | None] = mapped_column(Integer)
    #: … and/or a recall this many months later (:mod:`scheduling.followups`).
    recall_months: Mapped[int | None] = mapped_column(Integer)


class WeeklySchedule(Base):
    """Working hours in the clinic's local wall-clock time; ``breaks`` = ``[["12:00","13:00"]]``."""

    __tablename__ = "weekly_schedules"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    provider_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id"), index=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"))
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    breaks: Mapped[list[Any]]
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)


class SlotTemplate(Base):
    """A named slot of a provider's week ("New patient 09:00-10:00"), local wall time.

    Booking into it records its id on the appointment; availability can be narrowed to
    it. ``appointment_type_id`` None: any type."""

    __tablename__ = "slot_templates"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("end_time > start_time", name="range"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    provider_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id"), index=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"))
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    name: Mapped[str] = mapped_column(String(200))
    appointment_type_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("appointment_types.id"))


class ScheduleException(Base):
    __tablename__ = "schedule_exceptions"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="range"),
        CheckConstraint("kind IN ('time_off', 'extra_hours')", name="kind"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    provider_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id"), index=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"))
    kind: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500), default="")


class Holiday(Base):
    __tablename__ = "holidays"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200), default="")


class Blockout(Base):
    __tablename__ = "blockouts"
    __table_args__ = (CheckConstraint("end_at > start_at", name="range"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk(primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"), index=True)
    resource_id: Mapped[str | None] = mapped_column(ID, ForeignKey("resources.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500), default="")


class Quota(Base):
    __tablename__ = "quotas"
    __table_args__ = (
        CheckConstraint("max_count >= 0", name="max_count"),
        CheckConstraint("period IN ('day', 'week')", name="period"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"), index=True)
    period: Mapped[str] = mapped_column(String(8))
    max_count: Mapped[int] = mapped_column(Integer)
    provider_id: Mapped[str | None] = mapped_column(ID, ForeignKey("resources.id"))
    appointment_type_id: Mapped[str | None] = mapped_column(ID, ForeignKey("appointment_types.id"))
    #: Counts only the providers of this department (0016; no foreign key: see Resource.user_id).
    department_id: Mapped[str | None] = mapped_column(ID)


# --------------------------------------------------------------------------- patients


class Patient(Base):
    """Patient demographics and insurance (seed 002). PHI: never logged nor audited."""

    __tablename__ = "patients"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk(primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    insurance_provider: Mapped[str] = mapped_column(String(100), default="")
    insurance_id: Mapped[str] = mapped_column(String(50), default="")
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    #: ``email`` | ``sms`` | ``email_then_sms`` | ``sms_then_email`` | ``none`` (0007).
    contact_preference: Mapped[str] = mapped_column(String(16), default="email_then_sms")
    reminders_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


# --------------------------------------------------------------------------- appointments


class Series(Base):
    """A recurring booking: RFC 5545 RRULE expanded from ``first_local`` in the clinic zone."""

    __tablename__ = "series"
    __table_args__ = (org_ref("patient_id", "patients"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk(primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"))
    patient_id: Mapped[str] = mapped_column(ID, index=True)
    appointment_type_id: Mapped[str] = mapped_column(ID, ForeignKey("appointment_types.id"))
    rrule: Mapped[str] = mapped_column(String(500))
    #: Naive local wall-clock time of the first occurrence (deliberately not an instant).
    first_local: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    exdates: Mapped[list[Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Appointment(Base):
    """Mirrors :class:`scheduling.model.Appointment` plus the buffered block and flags.

    ``active`` = not deleted and the status occupies time; ``overridden`` = booked
    over a conflict with ``booking:override`` (``override_reason`` says why).
    """

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="range"),
        CheckConstraint("block_start <= start_at AND block_end >= end_at", name="block"),
        Index("ix_appointments_org_start", "organization_id", "start_at"),
        Index("ix_appointments_patient_block", "patient_id", "block_start"),
        Index("ix_appointments_org_clinic_block", "organization_id", "clinic_id", "block_start"),
        org_ref("patient_id", "patients"),
        org_ref("series_id", "series"),
        # Migration 0003 also adds ix_appointments_org_block_length, an expression index
        # on (organization_id, block_end - block_start) whose expression differs by
        # backend (see sync_server/services/calendar/queries.py LONGEST_BLOCK).
    )
    id: Mapped[str] = mapped_column(APPOINTMENT_ID, primary_key=True)
    organization_id: Mapped[str] = org_fk(primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"))
    patient_id: Mapped[str] = mapped_column(ID)
    appointment_type_id: Mapped[str] = mapped_column(ID, ForeignKey("appointment_types.id"))
    provider_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id"))
    room_id: Mapped[str | None] = mapped_column(ID, ForeignKey("resources.id"))
    equipment_ids: Mapped[list[Any]]
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    block_start: Mapped[datetime]
    block_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")
    patient_notes: Mapped[str] = mapped_column(Text, default="")
    series_id: Mapped[str | None] = mapped_column(ID, index=True)
    original_start: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)
    override_reason: Mapped[str | None] = mapped_column(String(500))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    last_status_previous: Mapped[str | None] = mapped_column(String(20))
    last_status_at: Mapped[datetime | None]
    last_status_actor_id: Mapped[str | None] = mapped_column(ID)
    cancel_category: Mapped[str | None] = mapped_column(String(40))
    visit_id: Mapped[str | None] = mapped_column(ID, index=True)
    slot_template_id: Mapped[str | None] = mapped_column(ID)
    encounter_ref: Mapped[str | None] = mapped_column(String(200))
    virtual_checkin_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AppointmentResource(Base):
    """One resource occupied by one appointment over its buffered block (see module doc)."""

    __tablename__ = "appointment_resources"
    __table_args__ = (
        UniqueConstraint("appointment_id", "resource_id", "organization_id",
                         name="uq_appointment_resources_appointment_resource_org"),
        org_ref("appointment_id", "appointments", ondelete="CASCADE"),
        CheckConstraint("block_end > block_start", name="range"),
        Index("ix_appointment_resources_resource_block", "resource_id", "block_start"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID, index=True)
    resource_id: Mapped[str] = mapped_column(ID, ForeignKey("resources.id"))
    block_start: Mapped[datetime]
    block_end: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    group_member: Mapped[bool] = mapped_column(Boolean, default=False)


class AppointmentFinancials(Base):
    """Seed 002's financial record of an appointment (:mod:`scheduling.financials`:
    ``amount_due`` and ``payment_status`` are kept equal to what the amounts give)."""

    __tablename__ = "appointment_financials"
    __table_args__ = (
        CheckConstraint("payment_status IN ('pending', 'partial', 'paid')", name="payment_status"),
        UniqueConstraint("appointment_id", "organization_id",
                         name="uq_appointment_financials_appointment_org"),
        org_ref("appointment_id", "appointments", ondelete="CASCADE"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    total_charge: Mapped[Decimal | None]
    insurance_coverage: Mapped[Decimal | None]
    copay_amount: Mapped[Decimal | None]
    amount_due: Mapped[Decimal | None]
    payment_status: Mapped[str] = mapped_column(String(16), default="pending")
    payment_date: Mapped[date | None] = mapped_column(Date)
    #: Paid so far, the fee of a late cancellation, and whether it was one (0016).
    amount_paid: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    late_cancellation_fee: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    late_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How much of the posted fee was waived afterwards (0022; ``fee_waivers`` says why).
    fee_waived: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))


class FeeWaiver(Base):
    """A late-cancellation fee waived (or reduced) after it was posted (0022): how much,
    why, by whom and when. Append-only; the financial record keeps the remaining fee."""

    __tablename__ = "fee_waivers"
    __table_args__ = (org_ref("appointment_id", "appointments", ondelete="CASCADE"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID, index=True)
    amount: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(500))
    waived_by: Mapped[str | None] = mapped_column(ID)
    waived_at: Mapped[datetime]


class WaitlistEntry(Base):
    __tablename__ = "waitlist_entries"
    __table_args__ = (org_ref("patient_id", "patients"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk(primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ID, ForeignKey("clinics.id"))
    patient_id: Mapped[str] = mapped_column(ID, index=True)
    appointment_type_id: Mapped[str] = mapped_column(ID, ForeignKey("appointment_types.id"))
    created_at: Mapped[datetime]
    priority: Mapped[int] = mapped_column(Integer, default=0)
    preferred_provider_ids: Mapped[list[Any]]
    preferred_weekdays: Mapped[list[Any]]
    #: ``[["09:00", "12:00"], ...]`` local wall-clock ranges.
    preferred_times: Mapped[list[Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)


# --------------------------------------------------------------------------- sync


class ClientMutation(Base):
    """The last mutation id processed for a desk (updated in the mutation's transaction)."""

    __tablename__ = "client_mutations"
    client_id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    last_mutation_id: Mapped[int] = mapped_column(BigIntId, default=0)


class Conflict(Base):
    """A refused intent of a desk: what the desk's conflict inbox shows."""

    __tablename__ = "conflicts"
    __table_args__ = (UniqueConstraint("client_id", "mutation_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    client_id: Mapped[str] = mapped_column(ID, index=True)
    mutation_id: Mapped[int] = mapped_column(BigIntId)
    #: What the desk tried: the intent name and its arguments.
    name: Mapped[str | None] = mapped_column(String(64))
    args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    code: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(500))
    params: Mapped[dict[str, Any]]
    alternatives: Mapped[list[Any]]
    created_version: Mapped[int] = mapped_column(BigIntId)
    created_at: Mapped[datetime]


class ChangeLogEntry(Base):
    """One changed record at one organization version: what pull serves after a cursor."""

    __tablename__ = "change_log"
    __table_args__ = (
        CheckConstraint("op IN ('upsert', 'delete')", name="op"),
        Index("ix_change_log_org_version", "organization_id", "version"),
        Index("ix_change_log_org_entity", "organization_id", "entity", "entity_id", "version"),
    )
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(BigIntId)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    op: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --------------------------------------------------------------------------- audit


class AuditEntry(Base):
    """An append-only, hash-chained audit record (ids only, never PHI)."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("organization_id", "seq"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE")
    )
    #: Position in the organization's chain: 1, 2, 3 … (a gap reveals a deleted entry).
    seq: Mapped[int] = mapped_column(BigIntId)
    at: Mapped[datetime]
    actor_user_id: Mapped[str | None] = mapped_column(ID)
    actor_device_id: Mapped[str | None] = mapped_column(ID)
    intent: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last entry of an organization's chain; its row lock serializes appends,
    and it reveals a deleted tail entry."""

    __tablename__ = "audit_heads"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigIntId, default=0)
    hash: Mapped[str] = mapped_column(String(64))


# --------------------------------------------------------------------------- sign-in


class LoginLockout(Base):
    """Failed sign-ins of one account from one client address (migration 0006).

    Wrong passwords pause only that pair, so an attacker elsewhere cannot lock the
    administrator out; ``clinicdesk-server unlock-account`` deletes the rows.
    """

    __tablename__ = "login_lockouts"
    user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = org_fk()
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


#: The six configuration tables: what administrators configure and a booking reads as
#: the clinic's configuration. Writing any of them moves the organization's configuration
#: counter (triggers of migration 0004, which froze these table names), so the kept
#: configuration (:mod:`sync_server.services.calendar.config_cache`) is read again; a sync
#: push run keeps their rows loaded for the run.
CONFIGURATION_TABLES: tuple[type[Base], ...] = (
    Clinic, Resource, ResourceClinic, AppointmentType, WeeklySchedule, Quota)

#: The per-organization settings a booking reads besides the configuration (notification
#: policy, live calendar feeds), kept between requests by the same counter: triggers of
#: migration 0024 count their writes too (a feed's ``version``, which every booking
#: moves, excepted). By table name: their models live in their own modules. Kept apart
#: from :data:`CONFIGURATION_TABLES`, whose rows a push run keeps loaded.
KEPT_SETTINGS_TABLES: tuple[str, ...] = ("notification_settings", "calendar_feeds")
