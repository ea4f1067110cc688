"""Preview a recurring series before booking it: every occurrence judged, nothing written.

The same judgement :func:`desktop.services.booking.book_series` makes (one state,
:func:`scheduling.series.book_series`), so the preview shows exactly which
occurrences will be booked and which clash, with their alternatives.
"""

from __future__ import annotations

from datetime import datetime

from desktop.services.booking import _occurrences
from desktop.services.calendar import load_state, window_for
from desktop.services.context import DeskContext
from desktop.services.dto import OccurrenceDTO
from desktop.store.models import ClinicRow
from scheduling.commands import BookAppointment
from scheduling.model import Series
from scheduling.recurrence import expand
from scheduling.series import book_series as judge_series
from scheduling.timeutil import to_local


def preview_series(
    ctx: DeskContext,
    *,
    clinic_id: str,
    patient_id: str,
    appointment_type_id: str,
    provider_id: str,
    first_start: datetime,
    rrule: str,
    end: datetime | None = None,
    room_id: str | None = None,
) -> tuple[OccurrenceDTO, ...]:
    """Each occurrence as booking would judge it now (a malformed ``rrule`` raises
    ``RecurrenceError``, like booking)."""
    user = ctx.user()
    actor = ctx.actor()
    template = BookAppointment(actor, "preview", clinic_id, patient_id, appointment_type_id,
                               provider_id, first_start, end, room_id)
    with ctx.store.session() as session:
        clinic = session.get(ClinicRow, clinic_id)
        if clinic is None:
            return ()
        tz = clinic.time_zone
        series = Series("preview", user.organization_id, clinic_id, rrule,
                        to_local(first_start, tz).replace(tzinfo=None))
        starts = [o.start for o in expand(rrule, series.first_local, tz,
                                          max_occurrences=ctx.policy.max_occurrences)]
        state = load_state(session, user.organization_id,
                           window_for(min(starts), max(starts), ctx.policy),
                           patient_ids={patient_id})
    return _occurrences(judge_series(state, template, series, ctx.now(), ctx.policy))


__all__ = ["preview_series"]
