"""The appointment status machine and its FHIR R4 mapping.

Transitions only go forward (a later step may be skipped, e.g. booked →
arrived). The one way back is :func:`undo`, which restores the previous
status within a short window and needs the ``booking:undo`` permission.

FHIR R4 ``Appointment.status`` mapping (one-to-one but for the two confirmation steps
Open Dental also has, ``message_left`` and ``ready``; FHIR's ``waitlist`` is
not an appointment status here, waiting patients are waitlist entries):

=================  =================  =============================================
ClinicDesk         FHIR R4            why
=================  =================  =============================================
pending            proposed           awaiting approval: nobody has accepted yet
booked             pending            booked by staff; the patient has not confirmed
message_left       pending            a message was left; the patient has not confirmed
confirmed          booked             every participant (patient included) accepted
arrived            arrived            the patient is in the waiting room
ready              arrived            in the waiting room, ready for the provider
in_progress        checked-in         paperwork done, the encounter has begun
completed          fulfilled
cancelled          cancelled
no_show            noshow
entered_in_error   entered-in-error
=================  =================  =============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from scheduling.model import AppointmentStatus as S
from scheduling.timeutil import local_date

TRANSITIONS: Mapping[S, frozenset[S]] = MappingProxyType(
    {
        S.PENDING: frozenset({S.BOOKED, S.CANCELLED, S.ENTERED_IN_ERROR}),
        S.BOOKED: frozenset(
            {S.MESSAGE_LEFT, S.CONFIRMED, S.ARRIVED, S.READY, S.IN_PROGRESS, S.CANCELLED,
             S.NO_SHOW, S.ENTERED_IN_ERROR}
        ),
        S.MESSAGE_LEFT: frozenset(
            {S.CONFIRMED, S.ARRIVED, S.READY, S.IN_PROGRESS, S.CANCELLED, S.NO_SHOW,
             S.ENTERED_IN_ERROR}
        ),
        S.CONFIRMED: frozenset(
            {S.ARRIVED, S.READY, S.IN_PROGRESS, S.CANCELLED, S.NO_SHOW, S.ENTERED_IN_ERROR}
        ),
        S.ARRIVED: frozenset(
            {S.READY, S.IN_PROGRESS, S.COMPLETED, S.CANCELLED, S.ENTERED_IN_ERROR}
        ),
        S.READY: frozenset({S.IN_PROGRESS, S.COMPLETED, S.CANCELLED, S.ENTERED_IN_ERROR}),
        S.IN_PROGRESS: frozenset({S.COMPLETED, S.ENTERED_IN_ERROR}),
        S.COMPLETED: frozenset({S.ENTERED_IN_ERROR}),
        S.CANCELLED: frozenset(),
        S.NO_SHOW: frozenset(),
        S.ENTERED_IN_ERROR: frozenset(),
    }
)

TERMINAL: frozenset[S] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)

#: Statuses in which an appointment may still be moved, resized or have its resources changed.
MOVABLE: frozenset[S] = frozenset({S.PENDING, S.BOOKED, S.MESSAGE_LEFT, S.CONFIRMED})

FHIR_STATUS: Mapping[S, str] = MappingProxyType(
    {
        S.PENDING: "proposed",
        S.BOOKED: "booked",
        S.MESSAGE_LEFT: "booked",
        S.CONFIRMED: "booked",
        S.ARRIVED: "arrived",
        S.READY: "arrived",
        S.IN_PROGRESS: "checked-in",
        S.COMPLETED: "fulfilled",
        S.CANCELLED: "cancelled",
        S.NO_SHOW: "noshow",
        S.ENTERED_IN_ERROR: "entered-in-error",
    }
)

#: The order in which statuses are reached; a transition never goes to a lower rank
#: except to the side exits (cancelled, no-show, entered in error).
RANK: Mapping[S, int] = MappingProxyType(
    {
        S.PENDING: 0,
        S.BOOKED: 1,
        S.MESSAGE_LEFT: 2,
        S.CONFIRMED: 3,
        S.ARRIVED: 4,
        S.READY: 5,
        S.IN_PROGRESS: 6,
        S.COMPLETED: 7,
        S.CANCELLED: 8,
        S.NO_SHOW: 8,
        S.ENTERED_IN_ERROR: 9,
    }
)


def can_transition(current: S, target: S) -> bool:
    """Whether the status machine allows ``current`` → ``target``."""
    return target in TRANSITIONS[current]


#: Steps that only make sense once the appointment's day has come (in the clinic's zone).
ON_THE_DAY: frozenset[S] = frozenset({S.ARRIVED, S.READY, S.IN_PROGRESS, S.COMPLETED})


def too_early(target: S, start: datetime, now: datetime, tz: str) -> bool:
    """Whether stepping to ``target`` at ``now`` comes before it can have happened:
    arrival, start and completion before the appointment's local day, a no-show before
    the start."""
    if target is S.NO_SHOW:
        return now < start
    return target in ON_THE_DAY and local_date(now, tz) < local_date(start, tz)


def offered_steps(current: S, start: datetime, now: datetime, tz: str) -> tuple[S, ...]:
    """The status steps a desk should offer for an appointment now, in machine order."""
    return tuple(s for s in sorted(TRANSITIONS[current], key=lambda s: RANK[s])
                 if not too_early(s, start, now, tz))


def undo_allowed(changed_at: datetime, now: datetime, window: timedelta) -> bool:
    """Whether a status change made at ``changed_at`` may still be undone at ``now``."""
    return timedelta(0) <= now - changed_at <= window
