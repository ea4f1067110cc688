"""Refusal codes and their translatable messages.

A code is stable (clients and the server match on it); its message is an
English gettext msgid with named placeholders, translated through the one
product catalogue (``translations/``). Parameters are raw values (ids,
datetimes, counts) that the presentation layer formats in the clinic's
locale and time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


def N_(message: str) -> str:
    """Mark ``message`` for extraction by Babel without translating it here."""
    return message


class RefusalCode(StrEnum):
    NOT_PERMITTED = "NOT_PERMITTED"
    UNKNOWN_RECORD = "UNKNOWN_RECORD"
    PATIENT_INACTIVE = "PATIENT_INACTIVE"
    PROVIDER_INACTIVE = "PROVIDER_INACTIVE"
    PROVIDER_NOT_AT_CLINIC = "PROVIDER_NOT_AT_CLINIC"
    PROVIDER_NOT_QUALIFIED = "PROVIDER_NOT_QUALIFIED"
    RESOURCE_NOT_SUITABLE = "RESOURCE_NOT_SUITABLE"
    NO_SUITABLE_ROOM = "NO_SUITABLE_ROOM"
    NOT_ONLINE_BOOKABLE = "NOT_ONLINE_BOOKABLE"
    IN_THE_PAST = "IN_THE_PAST"
    TOO_SHORT_NOTICE = "TOO_SHORT_NOTICE"
    TOO_FAR_AHEAD = "TOO_FAR_AHEAD"
    CLINIC_HOLIDAY = "CLINIC_HOLIDAY"
    OUTSIDE_HOURS = "OUTSIDE_HOURS"
    PROVIDER_TIME_OFF = "PROVIDER_TIME_OFF"
    BLOCKED_OUT = "BLOCKED_OUT"
    RESOURCE_OUTAGE = "RESOURCE_OUTAGE"
    DURATION_TOO_SHORT = "DURATION_TOO_SHORT"
    DURATION_TOO_LONG = "DURATION_TOO_LONG"
    BUFFER_CONFLICT = "BUFFER_CONFLICT"
    PROVIDER_BUSY = "PROVIDER_BUSY"
    ROOM_BUSY = "ROOM_BUSY"
    EQUIPMENT_BUSY = "EQUIPMENT_BUSY"
    PATIENT_DOUBLE_BOOKED = "PATIENT_DOUBLE_BOOKED"
    CAPACITY_REACHED = "CAPACITY_REACHED"
    QUOTA_REACHED = "QUOTA_REACHED"
    NEEDS_APPROVAL = "NEEDS_APPROVAL"
    NOT_MOVABLE = "NOT_MOVABLE"
    RESCHEDULE_LIMIT_REACHED = "RESCHEDULE_LIMIT_REACHED"
    LATE_CANCELLATION = "LATE_CANCELLATION"
    REASON_REQUIRED = "REASON_REQUIRED"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    TOO_EARLY_FOR_NO_SHOW = "TOO_EARLY_FOR_NO_SHOW"
    TOO_EARLY_FOR_CHECK_IN = "TOO_EARLY_FOR_CHECK_IN"
    NOTHING_TO_UNDO = "NOTHING_TO_UNDO"
    UNDO_WINDOW_EXPIRED = "UNDO_WINDOW_EXPIRED"
    OVERRIDE_NOT_PERMITTED = "OVERRIDE_NOT_PERMITTED"
    OVERRIDE_REASON_REQUIRED = "OVERRIDE_REASON_REQUIRED"
    STALE_VERSION = "STALE_VERSION"
    #: A synced record edit whose field moved on the server since the desk read it.
    EDIT_CONFLICT = "EDIT_CONFLICT"
    #: A booking into a named slot template that does not lie inside that slot.
    OUTSIDE_SLOT_TEMPLATE = "OUTSIDE_SLOT_TEMPLATE"
    #: The patient reached the organization's no-show limit (:mod:`scheduling.no_shows`).
    NO_SHOW_LIMIT = "NO_SHOW_LIMIT"


MESSAGES: Mapping[RefusalCode, str] = MappingProxyType(
    {
        RefusalCode.NOT_PERMITTED: N_("You do not have permission to {action}."),
        RefusalCode.UNKNOWN_RECORD: N_("The {kind} was not found. It may have been removed."),
        RefusalCode.PATIENT_INACTIVE: N_(
            "This patient's record is inactive. Reactivate it before booking."
        ),
        RefusalCode.PROVIDER_INACTIVE: N_("{provider} is not taking appointments."),
        RefusalCode.PROVIDER_NOT_AT_CLINIC: N_("{provider} does not work at {clinic}."),
        RefusalCode.PROVIDER_NOT_QUALIFIED: N_("{provider} does not offer {appointment_type}."),
        RefusalCode.RESOURCE_NOT_SUITABLE: N_("{resource} cannot be used for {appointment_type}."),
        RefusalCode.NO_SUITABLE_ROOM: N_(
            "No suitable room or equipment is free for {appointment_type} at that time."
        ),
        RefusalCode.NOT_ONLINE_BOOKABLE: N_("{appointment_type} cannot be booked online."),
        RefusalCode.IN_THE_PAST: N_("That time has already passed."),
        RefusalCode.TOO_SHORT_NOTICE: N_(
            "{subject} needs at least {minutes} minutes' notice; book {earliest} or later."
        ),
        RefusalCode.TOO_FAR_AHEAD: N_(
            "{appointment_type} can be booked at most {days} days ahead."
        ),
        RefusalCode.CLINIC_HOLIDAY: N_("{clinic} is closed on {day} ({holiday})."),
        RefusalCode.OUTSIDE_HOURS: N_(
            "{provider} is not working from {start} to {end}."
        ),
        RefusalCode.PROVIDER_TIME_OFF: N_("{provider} is off from {start} to {end}."),
        RefusalCode.BLOCKED_OUT: N_("That time is blocked: {reason}."),
        RefusalCode.RESOURCE_OUTAGE: N_("{resource} is out of service from {start} to {end}."),
        RefusalCode.DURATION_TOO_SHORT: N_(
            "{appointment_type} takes at least {minutes} minutes."
        ),
        RefusalCode.DURATION_TOO_LONG: N_("{appointment_type} takes at most {minutes} minutes."),
        RefusalCode.BUFFER_CONFLICT: N_(
            "{resource} needs {minutes} minutes between appointments; this is too close to "
            "the one at {other_start}."
        ),
        RefusalCode.PROVIDER_BUSY: N_(
            "{provider} is already booked from {other_start} to {other_end}."
        ),
        RefusalCode.ROOM_BUSY: N_("{room} is already in use from {other_start} to {other_end}."),
        RefusalCode.EQUIPMENT_BUSY: N_(
            "{equipment} is already in use from {other_start} to {other_end}."
        ),
        RefusalCode.PATIENT_DOUBLE_BOOKED: N_(
            "This patient already has an appointment from {other_start} to {other_end}."
        ),
        RefusalCode.CAPACITY_REACHED: N_(
            "This group session is full ({capacity} places)."
        ),
        RefusalCode.QUOTA_REACHED: N_(
            "The limit of {max_count} appointments per {period} is reached."
        ),
        RefusalCode.NEEDS_APPROVAL: N_(
            "{resource} is restricted: the booking waits for approval."
        ),
        RefusalCode.NO_SHOW_LIMIT: N_(
            "This patient missed {count} appointments in the last {months} months: "
            "please call the clinic to book (a booking by staff waits for approval)."
        ),
        RefusalCode.NOT_MOVABLE: N_("An appointment that is {status} cannot be changed."),
        RefusalCode.RESCHEDULE_LIMIT_REACHED: N_(
            "This appointment has been rescheduled {count} times, the most allowed."
        ),
        RefusalCode.LATE_CANCELLATION: N_(
            "Cancelling less than {hours} hours ahead is a late cancellation."
        ),
        RefusalCode.REASON_REQUIRED: N_("Please give a reason."),
        RefusalCode.ILLEGAL_TRANSITION: N_(
            "An appointment that is {current} cannot become {target}."
        ),
        RefusalCode.TOO_EARLY_FOR_NO_SHOW: N_(
            "A patient can only be marked as a no-show after the appointment has started."
        ),
        RefusalCode.TOO_EARLY_FOR_CHECK_IN: N_(
            "A patient can only arrive, be seen or be completed on the day of the appointment."
        ),
        RefusalCode.NOTHING_TO_UNDO: N_("There is no status change to undo."),
        RefusalCode.UNDO_WINDOW_EXPIRED: N_(
            "A status change can only be undone within {minutes} minutes."
        ),
        RefusalCode.OVERRIDE_NOT_PERMITTED: N_(
            "Double-booking needs the override permission."
        ),
        RefusalCode.OVERRIDE_REASON_REQUIRED: N_("Double-booking needs a reason."),
        RefusalCode.STALE_VERSION: N_(
            "This appointment was changed by someone else; reload and try again."
        ),
        RefusalCode.EDIT_CONFLICT: N_(
            "Someone else changed this while the desk was working on an older copy: "
            "choose which value to keep."
        ),
        RefusalCode.OUTSIDE_SLOT_TEMPLATE: N_(
            "This time is not inside the chosen slot template for this provider and type."
        ),
    }
)

#: Refusals that a user holding ``booking:override`` may override with a reason.
OVERRIDABLE: frozenset[RefusalCode] = frozenset(
    {
        RefusalCode.PROVIDER_BUSY,
        RefusalCode.ROOM_BUSY,
        RefusalCode.EQUIPMENT_BUSY,
        RefusalCode.PATIENT_DOUBLE_BOOKED,
        RefusalCode.BUFFER_CONFLICT,
        RefusalCode.CAPACITY_REACHED,
        RefusalCode.LATE_CANCELLATION,
    }
)

#: Refusals about time and resources, for which the nearest free alternatives are offered.
OFFERS_ALTERNATIVES: frozenset[RefusalCode] = frozenset(
    {
        RefusalCode.TOO_SHORT_NOTICE,
        RefusalCode.TOO_FAR_AHEAD,
        RefusalCode.CLINIC_HOLIDAY,
        RefusalCode.OUTSIDE_HOURS,
        RefusalCode.PROVIDER_TIME_OFF,
        RefusalCode.BLOCKED_OUT,
        RefusalCode.RESOURCE_OUTAGE,
        RefusalCode.BUFFER_CONFLICT,
        RefusalCode.PROVIDER_BUSY,
        RefusalCode.ROOM_BUSY,
        RefusalCode.EQUIPMENT_BUSY,
        RefusalCode.PATIENT_DOUBLE_BOOKED,
        RefusalCode.CAPACITY_REACHED,
        RefusalCode.QUOTA_REACHED,
        RefusalCode.NO_SUITABLE_ROOM,
        RefusalCode.IN_THE_PAST,
    }
)


def message_for(code: RefusalCode) -> str:
    return MESSAGES[code]
