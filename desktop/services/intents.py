"""The intents a desk queues in its outbox: names and JSON-able argument shapes.

``scheduling/sync_protocol.py`` does not define mutation names or argument
shapes yet, so they are defined here, importing nothing but the domain, so
they can move into the shared protocol module unchanged once the server's
push endpoint reads them. Conventions: instants are ISO-8601 UTC strings
(``2025-03-03T08:00:00+00:00``), local wall times naive ISO strings, ids
strings; every intent that creates a record carries the id the desk gave it,
so the server keeps that id and a re-sent push stays idempotent.

Intents say what the user asked for, not the rows the desk wrote: the server
re-judges each with the same rules (it may, for example, choose another free
room when ``room_id`` is None).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from scheduling.commands import (
    BookAppointment,
    CancelAppointment,
    ChangeStatus,
    MoveAppointment,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.model import Blockout, Patient, Series, WaitlistEntry

APPOINTMENT_BOOK = "appointment.book"
APPOINTMENT_MOVE = "appointment.move"
APPOINTMENT_RESIZE = "appointment.resize"
APPOINTMENT_CANCEL = "appointment.cancel"
APPOINTMENT_CHANGE_STATUS = "appointment.change_status"
APPOINTMENT_UNDO_STATUS = "appointment.undo_status"
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
    APPOINTMENT_CHANGE_STATUS, APPOINTMENT_UNDO_STATUS, SERIES_BOOK, SERIES_EDIT,
    WAITLIST_ADD, WAITLIST_REMOVE, WAITLIST_BOOK, PATIENT_CREATE, PATIENT_UPDATE,
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
        "base_version": base_version,
    }


def change_status(command: ChangeStatus, base_version: int) -> Args:
    return {
        "appointment_id": command.appointment_id,
        "status": command.status.value,
        "reason": command.reason,
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
    }


def patient_update(patient_id: str, changes: dict[str, Any]) -> Args:
    """Only the changed fields: the server applies them last-writer-wins per field."""
    return {"patient_id": patient_id, "changes": dict(changes)}


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
