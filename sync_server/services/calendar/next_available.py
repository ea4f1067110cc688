"""Next available: the first free slots of a type, searched in growing steps."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from scheduling import model
from scheduling.availability import next_available
from scheduling.commands import Alternative
from scheduling.state import CalendarState
from scheduling.timeutil import day_bounds, local_date
from sync_server.services.calendar.config_cache import kept_config
from sync_server.services.calendar.state import (
    Scope,
    add_appointments,
    config_version_and_longest_block,
    load_state,
)
from sync_server.services.errors import NotFound

#: The slot starts the first step of a next-available search covers; a step that
#: searched working time without finding a free slot doubles it. Most searches end in
#: the first steps, so a query reads an hour or two of appointments, not its horizon.
#: Measured on the 500,000-appointment bench data, every query run with each value in
#: turn (same answers): 15 or 30 minutes p95 ~25 ms, 45 minutes 28, 1 hour 29, 2 hours 30.
NEXT_AVAILABLE_FIRST_STEP = timedelta(minutes=30)


def next_available_in_windows(
    session: Session, organization_id: str, clinic_id: str, appointment_type_id: str, *,
    now: datetime, after: datetime | None = None,
    provider_ids: tuple[str, ...] | None = None, horizon_days: int = 60,
) -> Alternative | None:
    """:func:`scheduling.availability.next_available` over the database, loading the
    calendar a step at a time instead of the whole horizon at once. Read-only: the
    organization's configuration may come from the cache (:func:`kept_config`).
    Raises :class:`NotFound` when the organization has no such clinic.

    Each step covers the slot starts from a cursor up to a reach (an hour, then more):
    the search's one state (the configuration and the dated records of the whole
    horizon, read once) gets every appointment that can matter to those starts (see
    :func:`_appointment_window`), and is searched from the cursor. Same answer as one
    search over a state covering the horizon, because a missing appointment can only
    make a start look free, never busy:

    * a slot found at or before the reach was judged with complete records: it is
      the answer (every earlier start was judged with complete records too);
    * a slot found after the reach may be busy in truth, but every start before it
      was refused with a subset of the records, so is refused with all of them: the
      next step starts there;
    * no slot on the step's days: none in truth either; the next step starts the day
      after.
    """
    version, longest = config_version_and_longest_block(session, organization_id)
    config = kept_config(session, organization_id, clinic_id, (), version=version)
    clinic = config.clinic(clinic_id)
    if clinic is None:
        raise NotFound("No clinic with this id.", code="not_found")
    tz = clinic.time_zone
    start_at = after or now
    first = local_date(start_at, tz)
    last = first + timedelta(days=horizon_days)
    today = local_date(now, tz)  # earlier days are in the past: nothing to offer
    cursor = start_at if today <= first else max(start_at, day_bounds(today, tz)[0])
    horizon_end = day_bounds(last, tz)[1]
    step = NEXT_AVAILABLE_FIRST_STEP
    state: CalendarState | None = None
    while cursor < horizon_end:
        reach = min(cursor + step, horizon_end)
        day = local_date(cursor, tz)
        end = min(local_date(reach, tz), last)
        scope = Scope(clinic_id, day, end, slot_starts=(cursor, reach))
        if state is None:  # one state for the whole search, its dated records to the end
            state = load_state(session, organization_id, scope, config=config,
                               dated_for=replace(scope, last_day=last),
                               longest_block=longest)
        else:
            add_appointments(session, state, scope, longest)
        found = next_available(state, clinic_id, appointment_type_id, now=now, after=cursor,
                               provider_ids=provider_ids, horizon_days=(end - day).days)
        if found is None:
            cursor = day_bounds(end, tz)[1]
            continue
        if found.start <= reach:
            return found
        if _works_between(state, clinic_id, day, end, cursor, reach):
            step *= 2  # searched working time in vain: a busy stretch, take bigger steps
        cursor = found.start
    return None


def _works_between(state: CalendarState, clinic_id: str, first: date, last: date,
                   since: datetime, until: datetime) -> bool:
    """Whether any provider of the state works at the clinic between the instants."""
    day = first
    while day <= last:
        for resource in state.resources.values():
            if resource.kind is model.ResourceKind.PROVIDER and any(
                    w.start < until and w.end > since
                    for w in state.working_windows(resource.id, clinic_id, day)):
                return True
        day += timedelta(days=1)
    return False
