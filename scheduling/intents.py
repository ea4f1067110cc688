"""The intents a desk queues in its outbox: names, JSON-able argument shapes, decoders.

This is the wire format of a push mutation's ``name`` and ``args``, shared by
the desk (which encodes) and the server (which decodes and re-judges).
Conventions: instants are ISO-8601 UTC strings (``2025-03-03T08:00:00+00:00``),
local wall times naive ISO strings, ids strings; every intent that creates a
record carries the id the desk gave it, so the server keeps that id and a
re-sent push stays idempotent.

Intents say what the user asked for, not the rows the desk wrote: the server
re-judges each with the same rules (it may, for example, choose another free
room when ``room_id`` is None).

:func:`decode` is strict: an unknown name, an unknown or missing field, a value
of the wrong type, a naive instant or an impossible date raises a
:class:`~scheduling.errors.SchedulingInputError` whose message names the field
but never echoes its value (it could be patient data). Fields the encoders
always write but that have a natural default (``end``, ``room_id``, ``notes`` …)
may be left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from scheduling import limits
from scheduling.cancellation import CANCEL_CATEGORIES
from scheduling.commands import (
    Actor,
    BookAppointment,
    CancelAppointment,
    ChangeDetails,
    ChangeStatus,
    Command,
    MoveAppointment,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.errors import NaiveDatetimeError, SchedulingInputError
from scheduling.model import (
    CONTACT_PREFERENCES,
    AppointmentSource,
    AppointmentStatus,
    Blockout,
    Patient,
    Series,
    WaitlistEntry,
)
from scheduling.recurrence import parse_rrule
from scheduling.series import SeriesScope

APPOINTMENT_BOOK = "appointment.book"
APPOINTMENT_MOVE = "appointment.move"
APPOINTMENT_RESIZE = "appointment.resize"
APPOINTMENT_CANCEL = "appointment.cancel"
APPOINTMENT_CHANGE_STATUS = "appointment.change_status"
APPOINTMENT_UNDO_STATUS = "appointment.undo_status"
APPOINTMENT_CHANGE_DETAILS = "appointment.change_details"
SERIES_BOOK = "series.book"
SERIES_EDIT = "series.edit"
WAITLIST_ADD = "waitlist.add"
WAITLIST_REMOVE = "waitlist.remove"
WAITLIST_BOOK = "waitlist.book"
PATIENT_CREATE = "patient.create"
PATIENT_UPDATE = "patient.update"
BLOCKOUT_CREATE = "blockout.create"
BLOCKOUT_DELETE = "blockout.delete"

ALL_INTENTS = frozenset({
    APPOINTMENT_BOOK, APPOINTMENT_MOVE, APPOINTMENT_RESIZE, APPOINTMENT_CANCEL,
    APPOINTMENT_CHANGE_STATUS, APPOINTMENT_UNDO_STATUS, APPOINTMENT_CHANGE_DETAILS, SERIES_BOOK,
    SERIES_EDIT, WAITLIST_ADD, WAITLIST_REMOVE, WAITLIST_BOOK, PATIENT_CREATE, PATIENT_UPDATE,
    BLOCKOUT_CREATE, BLOCKOUT_DELETE,
})

Args = dict[str, Any]


def instant(value: datetime | None) -> str | None:
    """An aware instant as ISO-8601 UTC text."""
    return None if value is None else value.astimezone(UTC).isoformat()


def _times(pairs: tuple[tuple[time, time], ...]) -> list[list[str]]:
    return [[a.isoformat(), b.isoformat()] for a, b in pairs]


def book(command: BookAppointment) -> Args:
    """``appointment.book``; ``end`` None = the type's default duration."""
    return {
        "appointment_id": command.appointment_id,
        "clinic_id": command.clinic_id,
        "patient_id": command.patient_id,
        "appointment_type_id": command.appointment_type_id,
        "provider_id": command.provider_id,
        "start": instant(command.start),
        "end": instant(command.end),
        "room_id": command.room_id,
        "equipment_ids": None if command.equipment_ids is None else list(command.equipment_ids),
        "source": command.source.value,
        "notes": command.notes,
        "patient_notes": command.patient_notes,
        "override_reason": command.override_reason,
        "series_id": command.series_id,
        "original_start": instant(command.original_start),
        "visit_id": command.visit_id,
        "slot_template_id": command.slot_template_id,
    }


def move(command: MoveAppointment, base_version: int) -> Args:
    """``appointment.move``; ``base_version`` is the version the desk judged against."""
    return {
        "appointment_id": command.appointment_id,
        "start": instant(command.start),
        "provider_id": command.provider_id,
        "room_id": command.room_id,
        "override_reason": command.override_reason,
        "base_version": base_version,
    }


def resize(command: ResizeAppointment, base_version: int) -> Args:
    return {
        "appointment_id": command.appointment_id,
        "end": instant(command.end),
        "override_reason": command.override_reason,
        "base_version": base_version,
    }



def cancel(command: CancelAppointment, base_version: int) -> Args:
    return {
        "appointment_id": command.appointment_id,
        "reason": command.reason,
        "override_reason": command.override_reason,
        "category": command.category,
        "base_version": base_version,
    }


def change_status(command: ChangeStatus, base_version: int) -> Args:
    return {
        "appointment_id": command.appointment_id,
        "status": command.status.value,
        "reason": command.reason,
        "base_version": base_version,
    }


def change_details(command: ChangeDetails, base_version: int) -> Args:
    """``appointment.change_details``: a new type and/or notes (None keeps a field)."""
    return {
        "appointment_id": command.appointment_id,
        "appointment_type_id": command.appointment_type_id,
        "notes": command.notes,
        "patient_notes": command.patient_notes,
        "end": instant(command.end),
        "override_reason": command.override_reason,
        "base_version": base_version,
    }


def undo_status(command: UndoStatus, base_version: int) -> Args:
    return {"appointment_id": command.appointment_id, "base_version": base_version}


def series_book(template: BookAppointment, series: Series, skipped: list[datetime]) -> Args:
    """``series.book``: the template, the rule, and the local starts the desk left out.

    ``duration_seconds`` None means the type's default duration.
    Occurrence ids are ``scheduling.series.occurrence_id(series_id, original_local)``,
    so the server derives the same ids. ``skipped`` are the original local starts
    of occurrences the desk refused; the server books the others.
    """
    args = book(template)
    for per_occurrence in ("appointment_id", "start", "end", "series_id", "original_start"):
        del args[per_occurrence]
    args["duration_seconds"] = (
        None if template.end is None else int((template.end - template.start).total_seconds())
    )
    args.update(
        series_id=series.id,
        rrule=series.rrule,
        first_local=series.first_local.isoformat(),
        exdates=sorted(d.isoformat() for d in series.exdates),
        skipped=sorted(d.isoformat() for d in skipped),
    )
    return args


def series_edit(
    *,
    series_id: str,
    appointment_id: str,
    scope: str,
    action: str,
    start: datetime | None = None,
    provider_id: str | None = None,
    room_id: str | None = None,
    reason: str = "",
    override_reason: str | None = None,
    new_series_id: str | None = None,
) -> Args:
    """``series.edit``: ``action`` "move" (to ``start``) or "cancel" (with ``reason``),
    ``scope`` "this" | "following" | "all", anchored at ``appointment_id``."""
    return {
        "series_id": series_id,
        "appointment_id": appointment_id,
        "scope": scope,
        "action": action,
        "start": instant(start),
        "provider_id": provider_id,
        "room_id": room_id,
        "reason": reason,
        "override_reason": override_reason,
        "new_series_id": new_series_id,
    }


def waitlist_add(entry: WaitlistEntry) -> Args:
    return {
        "entry_id": entry.id,
        "clinic_id": entry.clinic_id,
        "patient_id": entry.patient_id,
        "appointment_type_id": entry.appointment_type_id,
        "created_at": instant(entry.created_at),
        "priority": entry.priority,
        "preferred_provider_ids": sorted(entry.preferred_provider_ids),
        "preferred_weekdays": sorted(entry.preferred_weekdays),
        "preferred_times": _times(entry.preferred_times),
        "note": entry.note,
    }


def waitlist_remove(entry_id: str) -> Args:
    return {"entry_id": entry_id}


def waitlist_book(entry_id: str, command: BookAppointment) -> Args:
    """``waitlist.book``: book like ``appointment.book`` and close the entry, atomically."""
    return {"entry_id": entry_id, **book(command)}


def patient_create(patient: Patient) -> Args:
    return {
        "patient_id": patient.id,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "phone": patient.phone,
        "email": patient.email,
        "preferred_language": patient.preferred_language,
        "contact_preference": patient.contact_preference,
        "reminders_opt_out": patient.reminders_opt_out,
        "date_of_birth": birth_date_text(patient.date_of_birth),
        "address": patient.address,
        "insurance_provider": patient.insurance_provider,
        "insurance_id": patient.insurance_id,
    }


def birth_date_text(value: date | None) -> str:
    """A date of birth as an intent carries it: ISO ``YYYY-MM-DD``, empty when unknown."""
    return "" if value is None else value.isoformat()


def patient_update(patient_id: str, changes: dict[str, Any],
                   base: Mapping[str, Any] | None = None) -> Args:
    """Only the changed fields, and per field the value the edit was based on (``base``):
    the server applies a field only while it still holds that value; otherwise the field
    is a conflict for the desk's inbox. Without ``base`` (desks before it) the fields
    are applied last-writer-wins."""
    args: Args = {"patient_id": patient_id, "changes": dict(changes)}
    if base is not None:
        args["base"] = {name: base[name] for name in changes if name in base}
    return args


def blockout_create(record: Blockout) -> Args:
    return {
        "blockout_id": record.id,
        "clinic_id": record.clinic_id,
        "start": instant(record.start),
        "end": instant(record.end),
        "resource_id": record.resource_id,
        "reason": record.reason,
    }


def blockout_delete(blockout_id: str) -> Args:
    return {"blockout_id": blockout_id}


# =========================================================================== decoding


class IntentError(SchedulingInputError):
    """A mutation's name or arguments cannot be read."""


class UnknownIntentError(IntentError):
    """The mutation names no known intent."""


@dataclass(frozen=True, slots=True)
class SeriesBooking:
    """``series.book``: judge each occurrence of the rule like ``template``.

    ``template.start`` is a placeholder (``book_series`` uses only its duration, which is
    ``end - start`` or the type's default when ``end`` is None).
    """

    template: BookAppointment
    series_id: str
    rrule: str
    first_local: datetime
    exdates: frozenset[datetime]
    skipped: frozenset[datetime]

    def series(self, organization_id: str) -> Series:
        """The series record; skipped occurrences are exceptions of it, as on the desk."""
        return Series(self.series_id, organization_id, self.template.clinic_id, self.rrule,
                      self.first_local, self.exdates | self.skipped)


@dataclass(frozen=True, slots=True)
class SeriesEdit:
    """``series.edit``: move (to ``start``) or cancel occurrences, anchored at one of them."""

    actor: Actor
    series_id: str
    appointment_id: str
    scope: SeriesScope
    action: str  # "move" | "cancel"
    start: datetime | None = None
    provider_id: str | None = None
    room_id: str | None = None
    reason: str = ""
    override_reason: str | None = None
    new_series_id: str | None = None

    def move_command(self) -> MoveAppointment:
        assert self.start is not None  # guaranteed by the decoder
        return MoveAppointment(self.actor, self.appointment_id, self.start, self.provider_id,
                               self.room_id, self.override_reason)

    def cancel_command(self) -> CancelAppointment:
        return CancelAppointment(self.actor, self.appointment_id, self.reason,
                                 self.override_reason)


@dataclass(frozen=True, slots=True)
class WaitlistAdd:
    entry_id: str
    clinic_id: str
    patient_id: str
    appointment_type_id: str
    created_at: datetime
    priority: int = 0
    preferred_provider_ids: frozenset[str] = frozenset()
    preferred_weekdays: frozenset[int] = frozenset()
    preferred_times: tuple[tuple[time, time], ...] = ()
    note: str = ""

    def entry(self, organization_id: str) -> WaitlistEntry:
        return WaitlistEntry(self.entry_id, organization_id, self.clinic_id, self.patient_id,
                             self.appointment_type_id, self.created_at, self.priority,
                             self.preferred_provider_ids, self.preferred_weekdays,
                             self.preferred_times, True, self.note)


@dataclass(frozen=True, slots=True)
class WaitlistRemove:
    entry_id: str


@dataclass(frozen=True, slots=True)
class WaitlistBook:
    """Book like ``appointment.book`` and close the waitlist entry, atomically."""

    entry_id: str
    command: BookAppointment


@dataclass(frozen=True, slots=True)
class PatientCreate:
    patient_id: str
    given_name: str
    family_name: str
    phone: str = ""
    email: str = ""
    preferred_language: str = "en"
    contact_preference: str = "email_then_sms"
    reminders_opt_out: bool = False
    date_of_birth: date | None = None
    address: str = ""
    insurance_provider: str = ""
    insurance_id: str = ""

    def patient(self, organization_id: str) -> Patient:
        return Patient(self.patient_id, organization_id, self.given_name, self.family_name,
                       True, self.phone, self.email, self.preferred_language,
                       self.contact_preference, self.reminders_opt_out, self.date_of_birth,
                       self.address, self.insurance_provider, self.insurance_id)


#: Patient fields a ``patient.update`` may change, with their type.
PATIENT_FIELDS: Mapping[str, type] = {
    "given_name": str, "family_name": str, "phone": str, "email": str,
    "preferred_language": str, "active": bool, "contact_preference": str,
    "reminders_opt_out": bool, "date_of_birth": str, "address": str,
    "insurance_provider": str, "insurance_id": str,
}
#: The longest text each changeable patient field may hold.
PATIENT_FIELD_LIMITS: Mapping[str, int] = {
    "given_name": limits.PERSON_NAME, "family_name": limits.PERSON_NAME,
    "phone": limits.PHONE, "email": limits.EMAIL, "preferred_language": limits.LANGUAGE,
    "contact_preference": limits.CONTACT_PREFERENCE, "date_of_birth": len("YYYY-MM-DD"),
    "address": limits.NOTE, "insurance_provider": limits.INSURANCE_PROVIDER,
    "insurance_id": limits.INSURANCE_ID,
}
#: Patient fields that may hold line breaks.
MULTILINE_PATIENT_FIELDS = frozenset({"address"})


@dataclass(frozen=True, slots=True)
class PatientUpdate:
    """Changed fields only. ``base`` holds, per changed field, the value the desk based its
    edit on: a field whose value has moved on since is *stale* (a conflict, not applied).
    Fields without a base value (older desks) are applied last-writer-wins in server order."""

    patient_id: str
    changes: Mapping[str, Any]
    base: Mapping[str, Any] = field(default_factory=dict)

    def stale(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """The changed fields whose ``current`` value is neither the base nor the new value:
        field -> current value (someone else's edit the desk had not seen)."""
        return {
            name: current[name] for name, value in self.changes.items()
            if name in self.base and current[name] != self.base[name] and current[name] != value
        }


@dataclass(frozen=True, slots=True)
class BlockoutCreate:
    blockout: Blockout


@dataclass(frozen=True, slots=True)
class BlockoutDelete:
    blockout_id: str


Request = (
    Command | SeriesBooking | SeriesEdit | WaitlistAdd | WaitlistRemove | WaitlistBook
    | PatientCreate | PatientUpdate | BlockoutCreate | BlockoutDelete
)


@dataclass(frozen=True, slots=True)
class DecodedIntent:
    """A decoded mutation: its intent ``name``, what it asks for, and (for changes to an
    existing appointment) the appointment version the desk judged against."""

    name: str
    request: Request
    base_version: int | None = None


def decode(name: str, args: Mapping[str, Any], actor: Actor) -> DecodedIntent:
    """Read the mutation ``name`` with ``args`` as the request ``actor`` makes.

    Raises :class:`IntentError` (or another :class:`SchedulingInputError`) when the
    mutation is unreadable; the message names the problem, never a submitted value.
    """
    decoder = _DECODERS.get(name)
    if decoder is None:
        raise UnknownIntentError("unknown mutation name")
    if not isinstance(args, Mapping):
        raise IntentError(f"the arguments of {name} must be an object")
    reader = _Args(name, args)
    decoded = decoder(reader, actor)
    reader.finish()
    return decoded


# --------------------------------------------------------------------------- argument reader

_MISSING = object()


class _Args:
    """Reads fields of one mutation, remembering which were consumed.

    Every text field has its bound from :mod:`scheduling.limits` (the same as its
    column on the server) and refuses control characters; instants and wall times
    must fall between the years ``limits.EARLIEST_YEAR`` and ``limits.LATEST_YEAR``.
    """

    def __init__(self, name: str, args: Mapping[str, Any]) -> None:
        self.name = name
        self.args = args
        self.seen: set[str] = set()

    def _raw(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        value = self.args.get(key, _MISSING)
        if value is _MISSING and required:
            raise IntentError(f"{self.name}: the field {key} is missing")
        return value

    def _fail(self, key: str, expected: str) -> IntentError:
        return IntentError(f"{self.name}: the field {key} must be {expected}")

    def _checked(self, key: str, value: str, limit: int, multiline: bool) -> str:
        problem = limits.text_problem(value, limit, multiline=multiline)
        if problem is not None:
            raise self._fail(key, problem)
        return value

    def text(self, key: str, default: str | None = None, *, limit: int,
             allow_empty: bool = False, multiline: bool = False) -> str:
        value = self._raw(key, default is None)
        if value is _MISSING:
            assert default is not None
            return default
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self._fail(key, "text" if allow_empty else "non-empty text")
        return self._checked(key, value, limit, multiline)

    def id(self, key: str, limit: int = limits.ID) -> str:
        value = self._raw(key, True)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(key, f"an id of at most {limit} characters")
        return self._checked(key, value, limit, False)

    def optional_id(self, key: str, limit: int = limits.ID) -> str | None:
        value = self._raw(key, False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._fail(key, f"an id of at most {limit} characters or null")
        return self._checked(key, value, limit, False)

    def appointment_id(self, key: str = "appointment_id") -> str:
        return self.id(key, limits.APPOINTMENT_ID)

    def reason(self, key: str = "reason") -> str:
        return self.text(key, "", limit=limits.REASON, allow_empty=True, multiline=True)

    def note(self, key: str) -> str:
        return self.text(key, "", limit=limits.NOTE, allow_empty=True, multiline=True)

    def optional_text(self, key: str, *, limit: int, multiline: bool = True) -> str | None:
        value = self._raw(key, False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "text or null")
        return self._checked(key, value, limit, multiline)

    def flag(self, key: str, default: bool) -> bool:
        value = self._raw(key, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def integer(self, key: str, default: int | None = None, *, minimum: int,
                maximum: int) -> int:
        value = self._raw(key, default is None)
        if value is _MISSING:
            assert default is not None
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not (
            minimum <= value <= maximum
        ):
            raise self._fail(key, f"a whole number from {minimum} to {maximum}")
        return value

    def optional_integer(self, key: str, *, minimum: int = 0,
                         maximum: int = limits.COUNTER) -> int | None:
        value = self._raw(key, False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not (
            minimum <= value <= maximum
        ):
            raise self._fail(key, f"a whole number from {minimum} to {maximum} or null")
        return value

    def instant(self, key: str) -> datetime:
        value = self.optional_instant(key, required=True)
        assert value is not None
        return value

    def optional_instant(self, key: str, *, required: bool = False) -> datetime | None:
        value = self._raw(key, required)
        if value is _MISSING or (value is None and not required):
            return None
        parsed = self._datetime(key, value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise NaiveDatetimeError(
                f"{self.name}: the field {key} must carry a time zone (got a naive date-time)"
            )
        return parsed.astimezone(UTC)

    def wall_time(self, key: str) -> datetime:
        return self._wall(key, self._raw(key, True))

    def wall_times(self, key: str) -> frozenset[datetime]:
        value = self._raw(key, False)
        if value is _MISSING or value is None:
            return frozenset()
        if not isinstance(value, list):
            raise self._fail(key, "a list of local date-times")
        return frozenset(self._wall(key, item) for item in value)

    def _wall(self, key: str, value: Any) -> datetime:
        parsed = self._datetime(key, value)
        if parsed.tzinfo is not None:
            raise self._fail(key, "a local wall-clock date-time without a time zone")
        return parsed

    def _datetime(self, key: str, value: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 64:
            raise self._fail(key, "an ISO-8601 date-time")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self._fail(key, "a valid ISO-8601 date-time") from None
        problem = limits.year_problem(parsed)
        if problem is not None:
            raise self._fail(key, problem)
        return parsed

    def ids(self, key: str) -> tuple[str, ...] | None:
        value = self._raw(key, False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, list) or len(value) > limits.ID_LIST or not all(
            isinstance(item, str) and item.strip()
            and limits.text_problem(item, limits.ID) is None for item in value
        ):
            raise self._fail(key, f"a list of at most {limits.ID_LIST} ids or null")
        return tuple(value)

    def weekdays(self, key: str) -> frozenset[int]:
        value = self._raw(key, False)
        if value is _MISSING or value is None:
            return frozenset()
        if not isinstance(value, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in value
        ):
            raise self._fail(key, "a list of weekdays 0 (Monday) to 6 (Sunday)")
        return frozenset(value)

    def time_ranges(self, key: str) -> tuple[tuple[time, time], ...]:
        value = self._raw(key, False)
        if value is _MISSING or value is None:
            return ()
        if not isinstance(value, list):
            raise self._fail(key, "a list of [start, end] local times")
        ranges = []
        for pair in value:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(t, str) and len(t) <= 16 for t in pair)):
                raise self._fail(key, "a list of [start, end] local times")
            try:
                start, end = time.fromisoformat(pair[0]), time.fromisoformat(pair[1])
            except ValueError:
                raise self._fail(key, "a list of valid [start, end] local times") from None
            if end <= start:
                raise self._fail(key, "a list of ranges that end after they start")
            ranges.append((start, end))
        return tuple(ranges)

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default, limit=max(len(a) for a in allowed))
        if value not in allowed:
            raise self._fail(key, "one of " + ", ".join(allowed))
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.args) - self.seen)
        if unknown:
            raise IntentError(f"{self.name}: unknown field(s): {', '.join(unknown)}")


def _guard(make: Callable[[], Any], name: str) -> Any:
    """Build a domain value, turning its own input errors into messages about ``name``."""
    try:
        return make()
    except SchedulingInputError as error:
        raise IntentError(f"{name}: {error}") from None
    except (TypeError, ValueError):
        raise IntentError(f"{name}: the arguments do not form a valid request") from None


# --------------------------------------------------------------------------- per intent


def _book_command(a: _Args, actor: Actor, *, appointment_id: str | None = None) -> BookAppointment:
    source = a.choice("source", tuple(s.value for s in AppointmentSource),
                      AppointmentSource.STAFF.value)
    fields: dict[str, Any] = {
        "appointment_id": appointment_id or a.appointment_id(),
        "clinic_id": a.id("clinic_id"),
        "patient_id": a.id("patient_id"),
        "appointment_type_id": a.id("appointment_type_id"),
        "provider_id": a.id("provider_id"),
        "start": a.instant("start") if appointment_id is None else _PLACEHOLDER,
        "end": a.optional_instant("end") if appointment_id is None else None,
        "room_id": a.optional_id("room_id"),
        "equipment_ids": a.ids("equipment_ids"),
        "source": AppointmentSource(source),
        "notes": a.note("notes"),
        "patient_notes": a.note("patient_notes"),
        "override_reason": a.optional_text("override_reason", limit=limits.REASON),
        "series_id": a.optional_id("series_id") if appointment_id is None else None,
        "original_start": a.optional_instant("original_start") if appointment_id is None
        else None,
        "visit_id": a.optional_id("visit_id") if appointment_id is None else None,
        "slot_template_id": a.optional_id("slot_template_id") if appointment_id is None
        else None,
    }
    command: BookAppointment = _guard(lambda: BookAppointment(actor, **fields), a.name)
    if command.end is not None and command.end <= command.start:
        raise IntentError(f"{a.name}: the end must be after the start")
    return command


#: The placeholder start of a series template (see :class:`SeriesBooking`).
_PLACEHOLDER = datetime(2000, 1, 1, tzinfo=UTC)


def _decode_book(a: _Args, actor: Actor) -> DecodedIntent:
    return DecodedIntent(a.name, _book_command(a, actor))


def _decode_move(a: _Args, actor: Actor) -> DecodedIntent:
    command = MoveAppointment(actor, a.appointment_id(), a.instant("start"),
                              a.optional_id("provider_id"), a.optional_id("room_id"),
                              a.optional_text("override_reason", limit=limits.REASON))
    return DecodedIntent(a.name, command, a.optional_integer("base_version"))


def _decode_resize(a: _Args, actor: Actor) -> DecodedIntent:
    command = ResizeAppointment(actor, a.appointment_id(), a.instant("end"),
                                a.optional_text("override_reason", limit=limits.REASON))
    return DecodedIntent(a.name, command, a.optional_integer("base_version"))



def _decode_cancel(a: _Args, actor: Actor) -> DecodedIntent:
    command = CancelAppointment(actor, a.appointment_id(),
                                a.reason(),
                                a.optional_text("override_reason", limit=limits.REASON),
                                _category(a))
    return DecodedIntent(a.name, command, a.optional_integer("base_version"))


def _category(a: _Args) -> str | None:
    category = a.optional_text("category", limit=40, multiline=False)
    if category is not None and category not in CANCEL_CATEGORIES:
        raise a._fail("category", "one of " + ", ".join(CANCEL_CATEGORIES))
    return category


def _decode_change_details(a: _Args, actor: Actor) -> DecodedIntent:
    notes, patient_notes = (a.optional_text(key, limit=limits.NOTE)
                            for key in ("notes", "patient_notes"))
    command = ChangeDetails(actor, a.appointment_id(), a.optional_id("appointment_type_id"),
                            notes, patient_notes, a.optional_instant("end"),
                            a.optional_text("override_reason", limit=limits.REASON))
    return DecodedIntent(a.name, command, a.optional_integer("base_version"))


def _decode_change_status(a: _Args, actor: Actor) -> DecodedIntent:
    status = a.choice("status", tuple(s.value for s in AppointmentStatus))
    command = ChangeStatus(actor, a.appointment_id(), AppointmentStatus(status),
                           a.reason())
    return DecodedIntent(a.name, command, a.optional_integer("base_version"))


def _decode_undo_status(a: _Args, actor: Actor) -> DecodedIntent:
    return DecodedIntent(a.name, UndoStatus(actor, a.appointment_id()),
                         a.optional_integer("base_version"))


def _decode_series_book(a: _Args, actor: Actor) -> DecodedIntent:
    series_id = a.id("series_id")
    template = _book_command(a, actor, appointment_id=series_id)
    duration = a.optional_integer("duration_seconds", minimum=60,
                                    maximum=limits.DURATION_SECONDS)
    if duration is not None:
        template = _guard(lambda: BookAppointment(
            actor, series_id, template.clinic_id, template.patient_id,
            template.appointment_type_id, template.provider_id, _PLACEHOLDER,
            _PLACEHOLDER + timedelta(seconds=duration), template.room_id,
            template.equipment_ids, template.source, template.notes, template.patient_notes,
            template.override_reason), a.name)
    rrule = a.text("rrule", limit=limits.RRULE)
    _guard(lambda: parse_rrule(rrule), a.name)
    request = SeriesBooking(template, series_id, rrule, a.wall_time("first_local"),
                            a.wall_times("exdates"), a.wall_times("skipped"))
    return DecodedIntent(a.name, request)


def _decode_series_edit(a: _Args, actor: Actor) -> DecodedIntent:
    scope = SeriesScope(a.choice("scope", tuple(s.value for s in SeriesScope)))
    action = a.choice("action", ("move", "cancel"))
    edit = SeriesEdit(
        actor, a.id("series_id"), a.appointment_id(), scope, action,
        a.optional_instant("start"), a.optional_id("provider_id"), a.optional_id("room_id"),
        a.reason(), a.optional_text("override_reason", limit=limits.REASON),
        a.optional_id("new_series_id"),
    )
    if action == "move" and edit.start is None:
        raise IntentError(f"{a.name}: moving occurrences needs the field start")
    if action == "move" and scope is SeriesScope.FOLLOWING and edit.new_series_id is None:
        raise IntentError(f"{a.name}: moving this and following needs the field new_series_id")
    return DecodedIntent(a.name, edit)


def _decode_waitlist_add(a: _Args, actor: Actor) -> DecodedIntent:
    del actor
    request = WaitlistAdd(
        a.id("entry_id"), a.id("clinic_id"), a.id("patient_id"), a.id("appointment_type_id"),
        a.instant("created_at"), a.integer("priority", 0, minimum=-limits.PRIORITY,
                                                   maximum=limits.PRIORITY),
        frozenset(a.ids("preferred_provider_ids") or ()), a.weekdays("preferred_weekdays"),
        a.time_ranges("preferred_times"), a.note("note"),
    )
    return DecodedIntent(a.name, request)


def _decode_waitlist_remove(a: _Args, actor: Actor) -> DecodedIntent:
    del actor
    return DecodedIntent(a.name, WaitlistRemove(a.id("entry_id")))


def _decode_waitlist_book(a: _Args, actor: Actor) -> DecodedIntent:
    entry_id = a.id("entry_id")
    return DecodedIntent(a.name, WaitlistBook(entry_id, _book_command(a, actor)))


def _decode_patient_create(a: _Args, actor: Actor) -> DecodedIntent:
    del actor
    request = PatientCreate(
        a.id("patient_id"), a.text("given_name", limit=limits.PERSON_NAME),
        a.text("family_name", "", limit=limits.PERSON_NAME, allow_empty=True),
        a.text("phone", "", limit=limits.PHONE, allow_empty=True),
        a.text("email", "", limit=limits.EMAIL, allow_empty=True),
        a.text("preferred_language", "en", limit=limits.LANGUAGE),
        _contact_preference(a, a.text("contact_preference", "email_then_sms",
                                      limit=limits.CONTACT_PREFERENCE)),
        a.flag("reminders_opt_out", False),
        _birth_date(a, a.text("date_of_birth", "", limit=len("YYYY-MM-DD"), allow_empty=True)),
        a.text("address", "", limit=limits.NOTE, allow_empty=True, multiline=True),
        a.text("insurance_provider", "", limit=limits.INSURANCE_PROVIDER, allow_empty=True),
        a.text("insurance_id", "", limit=limits.INSURANCE_ID, allow_empty=True),
    )
    return DecodedIntent(a.name, request)


def _birth_date(a: _Args, value: str) -> date | None:
    problem = _patient_field_problem("date_of_birth", value)
    if problem is not None:
        raise a._fail("date_of_birth", problem)
    return date.fromisoformat(value) if value else None


def _contact_preference(a: _Args, value: str) -> str:
    if value not in CONTACT_PREFERENCES:
        raise IntentError(f"{a.name}: contact_preference must be one of "
                          f"{', '.join(CONTACT_PREFERENCES)}")
    return value


def _decode_patient_update(a: _Args, actor: Actor) -> DecodedIntent:
    del actor
    patient_id = a.id("patient_id")
    changes = a._raw("changes", True)
    if not isinstance(changes, Mapping) or not changes:
        raise a._fail("changes", "a non-empty object of changed fields")
    for key, value in changes.items():
        expected = PATIENT_FIELDS.get(key)
        if expected is None:
            raise IntentError(f"{a.name}: a patient has no changeable field {key!r}")
        if not isinstance(value, expected):
            raise IntentError(f"{a.name}: the change to {key} has the wrong type")
        problem = _patient_field_problem(key, value)
        if problem is not None:
            raise IntentError(f"{a.name}: the change to {key} must be {problem}")
        if key == "contact_preference":
            _contact_preference(a, str(value))
    base = a._raw("base", False)
    if base is _MISSING:
        base = {}
    if not isinstance(base, Mapping) or not set(base) <= set(changes):
        raise a._fail("base", "an object of values for changed fields")
    for key, value in base.items():
        if not isinstance(value, PATIENT_FIELDS[key]) or _patient_field_problem(key, value):
            raise IntentError(f"{a.name}: the base value of {key} is not a valid {key}")
    return DecodedIntent(a.name, PatientUpdate(patient_id, dict(changes), dict(base)))


def _patient_field_problem(key: str, value: Any) -> str | None:
    """What is wrong with a patient field's text value (None: fine, or not text)."""
    if not isinstance(value, str):
        return None
    problem = limits.text_problem(value, PATIENT_FIELD_LIMITS[key],
                                  multiline=key in MULTILINE_PATIENT_FIELDS)
    if problem is None and key == "date_of_birth" and value:
        try:
            problem = limits.year_problem(date.fromisoformat(value))
        except ValueError:
            problem = "a date written YYYY-MM-DD, or empty"
    return problem


def _decode_blockout_create(a: _Args, actor: Actor) -> DecodedIntent:
    del actor
    blockout_id, clinic_id = a.id("blockout_id"), a.id("clinic_id")
    start, end = a.instant("start"), a.instant("end")
    resource_id, reason = a.optional_id("resource_id"), a.reason()
    record = _guard(lambda: Blockout(blockout_id, clinic_id, start, end, resource_id, reason),
                    a.name)
    return DecodedIntent(a.name, BlockoutCreate(record))


def _decode_blockout_delete(a: _Args, actor: Actor) -> DecodedIntent:
    del actor
    return DecodedIntent(a.name, BlockoutDelete(a.id("blockout_id")))


_DECODERS: dict[str, Callable[[_Args, Actor], DecodedIntent]] = {
    APPOINTMENT_BOOK: _decode_book,
    APPOINTMENT_MOVE: _decode_move,
    APPOINTMENT_RESIZE: _decode_resize,
    APPOINTMENT_CANCEL: _decode_cancel,
    APPOINTMENT_CHANGE_STATUS: _decode_change_status,
    APPOINTMENT_UNDO_STATUS: _decode_undo_status,
    APPOINTMENT_CHANGE_DETAILS: _decode_change_details,
    SERIES_BOOK: _decode_series_book,
    SERIES_EDIT: _decode_series_edit,
    WAITLIST_ADD: _decode_waitlist_add,
    WAITLIST_REMOVE: _decode_waitlist_remove,
    WAITLIST_BOOK: _decode_waitlist_book,
    PATIENT_CREATE: _decode_patient_create,
    PATIENT_UPDATE: _decode_patient_update,
    BLOCKOUT_CREATE: _decode_blockout_create,
    BLOCKOUT_DELETE: _decode_blockout_delete,
}
assert set(_DECODERS) == ALL_INTENTS
