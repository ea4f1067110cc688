"""The clinic-wide free-slot view: every free slot of a type over a period.

Most questions (a type needing its provider only, no quota at the clinic) are answered
by :func:`scheduling.slot_sweep.free_slots_swept`: the state holds the configuration
and dated records only, and each provider's busy times come from one query for the
whole period instead of a calendar state with every appointment of it. The query reads
only the appointments that can touch a working window (on PostgreSQL, one index range
per stretch of working time; the evenings, nights and weekends are not read) and gives
each as epoch seconds padded by its type's buffers. Anything else (rooms, equipment,
group types, quotas) is judged slot by slot by the rules, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select, text
from sqlalchemy.orm import Session

from scheduling.availability import SlotQuery, free_slots
from scheduling.commands import Alternative
from scheduling.slot_sweep import free_slots_swept, sweepable
from scheduling.state import CalendarState
from scheduling.timeutil import Interval, union
from sync_server.db import models as db
from sync_server.services.calendar.state import (
    Scope,
    bare_state,
    clinic_zone,
    config_version_and_longest_block,
    load_state,
)

_A = db.Appointment
_O = db.AppointmentResource
# The clinic's active appointments that may touch ``[since, until)`` (see :func:`_spans`),
# from the ``(organization_id, clinic_id, block_start)`` index. PostgreSQL reads one
# index range per span, pads each appointment by its type's buffers and merges each
# provider's padded times (``range_agg``, PostgreSQL 14 or later): a few thousand rows
# for a month instead of every appointment. Elsewhere: one range, padded in Python.
_PG_BUSY = text(
    "SELECT provider_id, date_part('epoch', lower(busy)), date_part('epoch', upper(busy))"
    " FROM (SELECT a.provider_id, unnest(range_agg(tstzrange("
    "a.start_at - make_interval(secs => coalesce(t.buffer_before_seconds, 0)),"
    " a.end_at + make_interval(secs => coalesce(t.buffer_after_seconds, 0))))) AS busy"
    " FROM unnest(CAST(:since AS timestamptz[]), CAST(:until AS timestamptz[])) AS w(since, until)"
    " JOIN appointments a ON a.organization_id = :org AND a.clinic_id = :clinic AND a.active"
    " AND a.block_start >= w.since - CAST(:longest AS interval) AND a.block_start < w.until"
    " AND a.start_at < w.until AND a.end_at > w.since"
    " LEFT JOIN appointment_types t ON t.id = a.appointment_type_id"
    " GROUP BY a.provider_id) AS merged")
_NO_JIT = text("SET LOCAL jit = off")
_BUSY = select(_A.provider_id, _A.start_at, _A.end_at, _A.appointment_type_id).where(
    _A.organization_id == bindparam("org"), _A.clinic_id == bindparam("clinic"),
    _A.active.is_(True), _A.block_start >= bindparam("lowest"),
    _A.block_start < bindparam("until"), _A.start_at < bindparam("until"),
    _A.end_at > bindparam("since"))
# Other clinics' active appointments occupying the providers (an organization with
# more than one clinic), from ``appointment_resources (resource_id, block_start)``.
_ELSEWHERE = select(_O.resource_id, _A.start_at, _A.end_at, _A.appointment_type_id).join(
    _A, and_(_A.id == _O.appointment_id, _A.organization_id == _O.organization_id,
             _A.active.is_(True))).where(
    _O.organization_id == bindparam("org"), _O.active.is_(True),
    _O.resource_id.in_(bindparam("ids", expanding=True)),
    _O.block_start >= bindparam("lowest"), _O.block_start < bindparam("until"),
    _A.clinic_id != bindparam("clinic"), _A.start_at < bindparam("until"),
    _A.end_at > bindparam("since"))


def free_slots_between(
    session: Session, organization_id: str, clinic_id: str, appointment_type_id: str,
    first_day: date, last_day: date, provider_ids: tuple[str, ...] | None, now: datetime,
    limit: int | None = None,
) -> list[Alternative] | None:
    """Every free slot of the type at the clinic over local days ``first_day`` ..
    ``last_day`` (the same answer as the rules judging each start); ``None``: no such
    clinic. Read-only: the configuration may come from the cache."""
    if clinic_zone(session, organization_id, clinic_id) is None:
        return None
    scope = Scope(clinic_id, first_day, last_day)
    query = SlotQuery(clinic_id, appointment_type_id, first_day, last_day, provider_ids)
    state = bare_state(session, organization_id, scope, keep_config=True)
    if not sweepable(state, query):
        state = load_state(session, organization_id, scope, keep_config=True)
        return free_slots(state, query, now=now, limit=limit)
    busy = provider_busy(session, state, query)
    return free_slots_swept(state, query, busy, now=now, limit=limit)


def provider_busy(session: Session, state: CalendarState, query: SlotQuery
                  ) -> dict[str, list[tuple[float, float]]]:
    """Each asked provider's busy times (see
    :data:`scheduling.slot_sweep.BusyTimes`) that can touch its working windows on
    the query's days; ``state`` holds the configuration and dated records."""
    org = state.organization_id
    spans = _spans(state, query)
    busy: dict[str, list[tuple[float, float]]] = {}
    if not spans:
        return busy
    _version, longest = config_version_and_longest_block(session, org)
    since, until = spans[0].start, spans[-1].end
    at: dict[str, Any] = {"org": org, "clinic": query.clinic_id, "since": since,
                          "until": until, "lowest": since - longest}
    rows: Sequence[Any]
    if session.get_bind().dialect.name == "postgresql":
        # The planner cannot tell how few rows each span holds and would compile the
        # query (JIT: ~35 ms, longer than running it).
        session.execute(_NO_JIT)
        rows = session.execute(_PG_BUSY, {
            **at, "since": [s.start for s in spans], "until": [s.end for s in spans],
            "longest": longest}).all()
    else:
        rows = _padded(state, session.execute(_BUSY, at).all())
    if len(state.clinics) > 1:
        providers = sorted({r.id for r in state.providers_at(query.clinic_id)})
        rows = [*rows, *_padded(state, session.execute(_ELSEWHERE,
                                                       {**at, "ids": providers}).all())]
    for provider_id, start, end in rows:
        busy.setdefault(provider_id, []).append((start, end))
    return busy


def _padded(state: CalendarState, rows: Sequence[Any]) -> list[tuple[str, float, float]]:
    """``(resource, start, end, type)`` rows as busy times, padded as the rules pad."""
    padding = {t.id: (t.buffer_before, t.buffer_after)
               for t in state.appointment_types.values()}
    none = (timedelta(0), timedelta(0))
    found = []
    for resource_id, start, end, type_id in rows:
        before, after = padding.get(type_id, none)
        found.append((resource_id, (start - before).timestamp(), (end + after).timestamp()))
    return found


def _spans(state: CalendarState, query: SlotQuery) -> list[Interval]:
    """The stretches of time whose appointments can touch a slot: every working window
    of the clinic's providers on the query's days, widened by the type's buffers and by
    the largest buffers another appointment can carry; merged, in order."""
    kind = state.appointment_type(query.appointment_type_id)
    types = state.appointment_types.values()
    widen_before = kind.buffer_before + max(t.buffer_after for t in types)
    widen_after = kind.buffer_after + max(t.buffer_before for t in types)
    windows: set[tuple[datetime, datetime]] = set()  # providers mostly share their hours
    day = query.first_day
    while day <= query.last_day:
        for provider in state.providers_at(query.clinic_id):
            if query.provider_ids is None or provider.id in query.provider_ids:
                windows.update((w.start, w.end) for w in
                               state.working_windows(provider.id, query.clinic_id, day))
        day += timedelta(days=1)
    return union([Interval(start - widen_before, end + widen_after)
                  for start, end in windows])
