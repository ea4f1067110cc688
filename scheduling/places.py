"""Where an appointment record sits in a calendar state's indexes, kept per record.

Putting an appointment into :class:`scheduling.state.CalendarState` computes its
padded interval and its patient's interval in epoch seconds and its local day at its
clinic (a zone conversion): a few microseconds each time. A server keeps the records
it read (:mod:`sync_server.services.calendar.kept_appointments`) and puts the very
same objects into a new state request after request, hundreds for a refusal's
alternatives; this keeps what was computed for each, so placing it again costs one
lookup.

An entry is used only for the same record object (``is``), the same zone and the same
buffers: a changed record is a new object, and a changed appointment type or clinic
zone gives other buffers or another zone. At most :data:`LIMIT` records are kept,
all forgotten at once when it is reached (they are only computed values).
"""

from __future__ import annotations

from datetime import date, timedelta

from scheduling.model import Appointment
from scheduling.timeutil import local_date

#: ``(padded start, padded end, patient's start, patient's end, local day)``; instants
#: as epoch seconds.
Place = tuple[float, float, float, float, date]

#: The most records whose places are kept: as many as a server process keeps records
#: (``kept_appointments.LIMIT``), since only those come back as the same objects. An
#: entry holds its record, so this also bounds what is kept alive for it (a desk,
#: which builds new records each time, gains nothing but keeps at most that many).
LIMIT = 20_000

_KEPT: dict[str, tuple[Appointment, str | None, timedelta, timedelta, Place]] = {}


def place_of(appointment: Appointment, tz: str | None, before: timedelta,
             after: timedelta) -> Place:
    """``appointment``'s place with its type's buffers ``before`` and ``after``, its local
    day in ``tz`` (None: its UTC date, for a clinic the state does not hold)."""
    kept = _KEPT.get(appointment.id)
    if kept is not None and kept[0] is appointment and kept[1] == tz \
            and kept[2] == before and kept[3] == after:
        return kept[4]
    start, end = appointment.start, appointment.end
    day = start.date() if tz is None else local_date(start, tz)
    # computed as the state's queries compute instants: the same float, to the last bit
    place = ((start - before).timestamp(), (end + after).timestamp(), start.timestamp(),
             end.timestamp(), day)
    if len(_KEPT) >= LIMIT:
        _KEPT.clear()
    _KEPT[appointment.id] = (appointment, tz, before, after, place)
    return place
