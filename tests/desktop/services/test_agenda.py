"""Agenda queries: day and week views, free slots, next available, inbox, pending count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from desktop.services import agenda, booking
from desktop.services.calendar import Window, load_state
from desktop.services.context import DeskContext, NotPermitted
from desktop.services.dto import AgendaItem
from desktop.store.models import ConflictRow
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    EMAIL,
    ORG,
    PASSWORD,
    TUESDAY_9,
    server_accepting,
)

TUESDAY = date(2025, 3, 4)


def _book(ctx: DeskContext, patient: str, start: datetime, provider: str = DR_RUIZ) -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=patient,
                          appointment_type_id=CHECKUP, provider_id=provider, start=start)
    assert result.appointment is not None, result.refusal
    return result.appointment.id


def test_day_view_lists_pending_appointments_with_names_and_colours(ctx: DeskContext) -> None:
    first = _book(ctx, ANA, TUESDAY_9)
    _book(ctx, BEN, TUESDAY_9, DR_LOPEZ)
    _book(ctx, ANA, TUESDAY_9 + timedelta(days=1))  # Wednesday: not in Tuesday's view

    view = agenda.day_view(ctx, CLINIC, TUESDAY)

    # Ordered by start, then provider id (prov-lopez before prov-ruiz).
    assert [i.patient_name for i in view.items] == ["Ben Smith", "Ana García"]
    item = view.items[1]
    assert isinstance(item, AgendaItem)
    assert (item.appointment_id, item.type_name, item.color) == (first, "Check-up", "#22aa66")
    assert (item.provider_name, item.room_name, item.status, item.pending) == (
        "Dr Ruiz", "Room 1", "booked", True)


def test_cancelled_appointments_are_hidden_unless_asked_for(ctx: DeskContext) -> None:
    appointment_id = _book(ctx, ANA, TUESDAY_9)
    assert booking.cancel(ctx, appointment_id, "patient called").ok

    assert agenda.day_view(ctx, CLINIC, TUESDAY).items == ()
    assert len(agenda.day_view(ctx, CLINIC, TUESDAY, include_cancelled=True).items) == 1


def test_week_view_covers_monday_to_sunday(ctx: DeskContext) -> None:
    _book(ctx, ANA, TUESDAY_9)
    _book(ctx, BEN, TUESDAY_9 + timedelta(days=3))

    view = agenda.week_view(ctx, CLINIC, TUESDAY)

    assert (view.first_day, view.last_day) == (date(2025, 3, 3), date(2025, 3, 9))
    assert len(view.items) == 2


def test_free_slots_and_next_available_skip_booked_time(ctx: DeskContext) -> None:
    _book(ctx, ANA, TUESDAY_9)

    slots = agenda.free_slots(ctx, CLINIC, CHECKUP, TUESDAY, TUESDAY, provider_ids=(DR_RUIZ,))
    assert slots and TUESDAY_9 not in {s.start for s in slots}
    assert slots[0].start == TUESDAY_9 + timedelta(minutes=30)

    first = agenda.next_available(ctx, CLINIC, CHECKUP, after=TUESDAY_9,
                                  provider_ids=(DR_RUIZ,))
    assert first is not None and first.start == TUESDAY_9 + timedelta(minutes=30)


def test_conflict_inbox_and_pending_count(ctx: DeskContext) -> None:
    _book(ctx, ANA, TUESDAY_9)
    with ctx.store.write() as session:
        session.add(ConflictRow(
            mutation_id=1, attempted={"name": "appointment.book", "args": {}},
            code="PROVIDER_BUSY", message_id="busy", params={"provider": DR_RUIZ},
            alternatives=[{"start": "2025-03-04T09:00:00+00:00",
                           "end": "2025-03-04T09:30:00+00:00", "provider_id": DR_RUIZ}],
            received_at=datetime(2025, 3, 3, 8, tzinfo=UTC),
        ))

    [conflict] = agenda.conflict_inbox(ctx)
    assert (conflict.intent, conflict.code) == ("appointment.book", "PROVIDER_BUSY")
    assert conflict.alternatives[0].start == TUESDAY_9 + timedelta(hours=1)
    assert agenda.pending_count(ctx) == 1

    agenda.dismiss_conflict(ctx, conflict.id)
    assert agenda.conflict_inbox(ctx) == ()


def test_a_user_without_calendar_permission_cannot_see_the_agenda(ctx: DeskContext) -> None:
    ctx.sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting(frozenset()))

    with pytest.raises(NotPermitted):
        agenda.day_view(ctx, CLINIC, TUESDAY)


def test_a_windowed_state_holds_only_the_window_and_the_named_appointments(
    ctx: DeskContext,
) -> None:
    near = _book(ctx, ANA, TUESDAY_9)
    far = _book(ctx, BEN, TUESDAY_9 + timedelta(days=63))
    window = Window(TUESDAY_9 - timedelta(days=1), TUESDAY_9 + timedelta(days=1))

    with ctx.store.session() as session:
        narrow = load_state(session, ORG, window)
        named = load_state(session, ORG, window, appointment_ids=[far])
        full = load_state(session, ORG)

    assert set(narrow.appointments) == {near}
    assert set(named.appointments) == {near, far}
    assert set(full.appointments) == {near, far}
    assert set(full.clinics) == {CLINIC} and len(full.resources) == 4
