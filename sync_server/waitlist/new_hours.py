"""New working hours free time for the waitlist.

When an administrator adds or extends a provider's working hours — a weekly schedule
created or changed, extra hours added, time off shortened or removed — the working
time that is new over the next :data:`HORIZON_DAYS` days becomes ``freed_slots`` rows
(reason ``new_hours``), which the offer step of the worker offers to matching waitlist
entries like any freed slot (:mod:`sync_server.waitlist.offers`).

The handler hears :class:`~sync_server.services.events.ConfigurationChanged` inside the
administrator's transaction. It reads the provider's working windows as they are now
and as they were (the event carries the record as it was; the new state has it
replaced), and keeps each new stretch at least as long as the shortest appointment
type, at most :data:`MAX_SLOTS` per change.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from scheduling.state import CalendarState
from scheduling.timeutil import Interval, local_date, subtract, union
from sync_server.db import models as db
from sync_server.services.calendar import Scope, exception_record, load_state, schedule_record
from sync_server.services.events import ConfigurationChanged
from sync_server.services.unit_of_work import UnitOfWork
from sync_server.waitlist.models import FreedSlot
from sync_server.waitlist.offers import change_time

#: How far ahead new hours are offered (days, from the clinic's today).
HORIZON_DAYS = 14
#: At most this many freed slots per change.
MAX_SLOTS = 20
_TABLES: dict[str, tuple[type[Any], Any, str]] = {
    "weekly_schedule": (db.WeeklySchedule, schedule_record, "schedules"),
    "schedule_exception": (db.ScheduleException, exception_record, "exceptions"),
}


def note_new_hours(uow: UnitOfWork, change: ConfigurationChanged) -> None:
    """The handler (see the module doc)."""
    if change.entity not in _TABLES:
        return
    session, now = uow.session, change_time(uow)
    table, to_record, field = _TABLES[change.entity]
    row = session.get(table, change.record_id) if change.op == "upsert" else None
    after = to_record(row) if row is not None else None
    record = after or change.before
    if record is None:
        return
    org, provider, clinic_id = change.organization_id, record.provider_id, record.clinic_id
    clinic = session.get(db.Clinic, clinic_id)
    if clinic is None:
        return
    first = local_date(now, clinic.time_zone)
    last = first + timedelta(days=HORIZON_DAYS)
    scope = Scope(clinic_id, first, last, resource_ids=frozenset({provider}))
    now_state = load_state(session, org, scope)
    then_state = load_state(session, org, scope)
    records = getattr(then_state, field)
    records[provider] = [r for r in records.get(provider, ()) if r.id != change.record_id]
    if change.before is not None:
        records.setdefault(change.before.provider_id, []).append(change.before)
    shortest = min((t.default_duration for t in now_state.appointment_types.values()),
                   default=None)
    if shortest is None:
        return
    made = 0
    for day in _days(first, last):
        for stretch in _new_time(now_state, then_state, provider, clinic_id, day):
            start = max(stretch.start, now)
            if stretch.end - start < shortest or made >= MAX_SLOTS:
                continue
            session.add(FreedSlot(
                id=str(uuid.uuid4()), organization_id=org, clinic_id=clinic_id,
                provider_id=provider, room_id=None, start_at=start, end_at=stretch.end,
                source_appointment_id=None, reason="new_hours", state="pending",
                next_check_at=now, created_at=now, updated_at=now))
            made += 1


def _new_time(now: CalendarState, then: CalendarState, provider: str, clinic_id: str,
              day: date) -> list[Interval]:
    return subtract(now.working_windows(provider, clinic_id, day),
                    union(then.working_windows(provider, clinic_id, day)))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
